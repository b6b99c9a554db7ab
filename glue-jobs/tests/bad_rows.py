"""The bad-input corpus of the raw → processed job: one orders record per case, run through the real
job for dev (dt) and prod (dt + region). `test_bad_rows.py` asserts every outcome and that the
counts reconcile; glue-jobs/README.md carries the same table (`python glue-jobs/tests/bad_rows.py`
prints it, and a test checks the README matches).

An outcome is a quarantine reason code, or None for "processed" (then `expect` holds values the
processed row must have, as pyarrow reads them back).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from support import DROP, line, order

#: The corpus run's --max_record_bytes (small, so an oversized line stays small too).
MAX_RECORD_BYTES = 2048
UTC = dt.timezone.utc
_SAME = object()


@dataclass(frozen=True)
class Case:
    id: str
    what: str
    line: str
    reason: Optional[str]
    column: Optional[str] = None
    prod_reason: Any = _SAME
    #: a line written before `line` that is expected to be processed (the version that wins)
    companion: Optional[str] = None
    file: str = "corpus.jsonl"
    expect: dict[str, Any] = field(default_factory=dict)

    def outcome(self, env: str) -> Optional[str]:
        return self.reason if env != "prod" or self.prod_reason is _SAME else self.prod_reason

    @property
    def order_id(self) -> Optional[str]:
        try:
            value = json.loads(self.line.lstrip("\ufeff"))
        except ValueError:
            return None
        key = value.get("order_id") if isinstance(value, dict) else None
        return None if key is None else str(key)  # a numeric id is stored as its text


def _o(n: int, **changes: Any) -> str:
    return line(order(n, **changes))


CASES: list[Case] = [
    # -- not a record at all ------------------------------------------------------------------------
    Case("truncated_json", "truncated JSON object", _o(1)[:40], "malformed_json"),
    Case("not_json", "plain text instead of JSON", "order_id=o-002;amount=10", "malformed_json"),
    Case("trailing_text", "text after the closing brace", _o(3) + " // retry", "malformed_json"),
    Case("two_objects", "two objects on one line (lost newline)", _o(4) + _o(104), "malformed_json"),
    Case("json_array", "a JSON array of orders", "[" + _o(5) + "]", "not_a_json_object"),
    Case("json_string", "a bare JSON string", '"o-006"', "not_a_json_object"),
    Case("json_null", "the JSON literal null", "null", "not_a_json_object"),
    Case("blank_line", "a line of spaces", "   ", "blank_line"),
    Case("empty_line", "an empty line between records", "", "blank_line"),
    Case(
        "oversized",
        f"a {MAX_RECORD_BYTES + 1000}-byte record (limit {MAX_RECORD_BYTES})",
        _o(10, status="x" * (MAX_RECORD_BYTES + 800)),
        "oversized_record",
    ),
    # -- missing values -----------------------------------------------------------------------------
    Case("missing_required", "required field absent", _o(11, customer_id=DROP), "missing_required", "customer_id"),
    Case("null_required", "required field null", _o(12, currency=None), "missing_required", "currency"),
    Case("empty_required", "required string empty", _o(13, status=""), "missing_required", "status"),
    Case("blank_required", "required string of spaces", _o(14, status="   "), "missing_required", "status"),
    Case(
        "wrong_case_key",
        "field name in the wrong case (Order_ID)",
        line({"Order_ID": "o-015", **{k: v for k, v in order(15).items() if k != "order_id"}}),
        "missing_required",
        "order_id",
    ),
    Case("empty_object", "an empty object", "{}", "missing_required", "order_id"),
    # -- wrong types --------------------------------------------------------------------------------
    Case("decimal_text", "amount is a word", _o(17, amount="twelve"), "wrong_type", "amount"),
    Case(
        "decimal_precision",
        "amount over decimal(12,2)'s 10 integer digits",
        _o(18, amount=12345678901.5),
        "wrong_type",
        "amount",
    ),
    Case("decimal_scale", "amount with 3 decimal places", _o(19, amount=12.345), "wrong_type", "amount"),
    Case("boolean_for_number", "amount is true", _o(20, amount=True), "wrong_type", "amount"),
    Case("nan_amount", "amount is NaN", _o(21, amount="NaN"), "wrong_type", "amount"),
    Case("object_for_string", "status is an object", _o(22, status={"code": "paid"}), "wrong_type", "status"),
    Case("array_for_string", "currency is an array", _o(23, currency=["EUR"]), "wrong_type", "currency"),
    # -- timestamps ---------------------------------------------------------------------------------
    Case(
        "ts_not_iso",
        "order_ts as 01/05/2024 10:00",
        _o(24, order_ts="01/05/2024 10:00"),
        "invalid_timestamp",
        "order_ts",
    ),
    Case(
        "ts_impossible",
        "order_ts on 30 February",
        _o(25, order_ts="2024-02-30T10:00:00Z"),
        "invalid_timestamp",
        "order_ts",
    ),
    Case(
        "ts_no_zone", "order_ts without zone", _o(26, order_ts="2024-05-01T10:00:00"), "invalid_timestamp", "order_ts"
    ),
    Case("ts_epoch", "updated_at as epoch seconds", _o(27, updated_at=1714557600), "invalid_timestamp", "updated_at"),
    Case("ts_date_only", "order_ts as a bare date", _o(28, order_ts="2024-05-01"), "invalid_timestamp", "order_ts"),
    Case(
        "ts_bad_offset",
        "order_ts with offset +25:00",
        _o(29, order_ts="2024-05-01T10:00:00+25:00"),
        "invalid_timestamp",
        "order_ts",
    ),
    # -- partitions ---------------------------------------------------------------------------------
    Case(
        "region_unknown",
        "region mars (not in prod's eu/us/apac)",
        _o(30, region="mars"),
        None,
        prod_reason="partition_value_not_allowed",
        column="region",
        expect={"region": "mars"},
    ),
    Case(
        "region_case",
        "region EU in upper case",
        _o(31, region="EU"),
        None,
        prod_reason="partition_value_not_allowed",
        column="region",
        expect={"region": "EU"},
    ),
    Case(
        "before_range",
        "order placed before rangeStart 2024-01-01",
        _o(32, order_ts="2023-12-31T23:59:59Z"),
        "before_partition_range",
        "order_ts",
    ),
    Case("far_future", "order dated 2099", _o(33, order_ts="2099-01-01T00:00:00Z"), "event_in_future", "order_ts"),
    # -- duplicates ---------------------------------------------------------------------------------
    Case(
        "older_version",
        "an older version after the newer one",
        _o(34, status="placed", updated_at="2024-05-01T09:00:00Z"),
        "duplicate_superseded",
        companion=_o(34, status="paid", updated_at="2024-05-01T11:00:00Z"),
        expect={"status": "paid"},
    ),
    Case("exact_duplicate", "the same line twice", _o(35), "duplicate_superseded", companion=_o(35)),
    # -- odd but valid: processed -------------------------------------------------------------------
    Case(
        "unicode",
        "non-ASCII and emoji text",
        _o(40, customer_id="c-ünïcødé-😀"),
        None,
        expect={"customer_id": "c-ünïcødé-😀"},
    ),
    Case(
        "escaped_unicode",
        "\\u-escaped text",
        _o(41).replace('"c-1"', '"caf\\u00e9"'),
        None,
        expect={"customer_id": "café"},
    ),
    Case(
        "number_as_string",
        'amount "12.50" as a string',
        _o(42, amount="12.50"),
        None,
        expect={"amount": Decimal("12.50")},
    ),
    Case("integer_amount", "amount 7 as a JSON integer", _o(43, amount=7), None, expect={"amount": Decimal("7.00")}),
    Case(
        "numeric_id",
        "order_id as a JSON number",
        _o(44).replace('"o-044"', "90210"),
        None,
        expect={"order_id": "90210"},
    ),
    Case(
        "unknown_column",
        "an extra field the contract lacks",
        line({**order(45), "coupon": "SPRING"}),
        None,
        expect={"status": "placed"},
    ),
    Case(
        "duplicate_key",
        "status given twice: the last wins",
        _o(46).replace('"status":"placed"', '"status":"placed","status":"paid"'),
        None,
        expect={"status": "paid"},
    ),
    Case(
        "offset_midnight",
        "order_ts 23:30-02:00 is the next UTC day",
        _o(47, order_ts="2024-05-01T23:30:00-02:00"),
        None,
        expect={"dt": "2024-05-02", "order_ts": dt.datetime(2024, 5, 2, 1, 30, tzinfo=UTC)},
    ),
    Case(
        "nanoseconds",
        "order_ts with 9 fractional digits",
        _o(48, order_ts="2024-05-01T10:00:00.123456789Z"),
        None,
        expect={"order_ts": dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)},
    ),
    Case("bom", "UTF-8 byte-order mark at the start of a file", "\ufeff" + _o(49), None, file="bom.jsonl"),
    Case("crlf", "Windows line endings", _o(50), None, file="crlf.jsonl"),
    Case("gzip", "a gzip-compressed file", _o(51), None, file="gzipped.jsonl.gz"),
]


def corpus_files() -> dict[str, list[str]]:
    """File name → lines, in corpus order (a companion precedes its case)."""
    out: dict[str, list[str]] = {}
    for case in CASES:
        out.setdefault(case.file, [])
        if case.companion is not None:
            out[case.file].append(case.companion)
        out[case.file].append(case.line)
    return out


def _cell(case: Case, env: str) -> str:
    reason = case.outcome(env)
    if reason is None:
        return "processed"
    return f"`{reason}`" + (f" ({case.column})" if case.column else "")


def markdown_table() -> str:
    rows = ["| # | input | dev (`dt`) | prod (`dt` + `region`) |", "| --- | --- | --- | --- |"]
    for i, case in enumerate(CASES, 1):
        rows.append(f"| {i} | {case.what} | {_cell(case, 'dev')} | {_cell(case, 'prod')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
