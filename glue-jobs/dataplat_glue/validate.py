"""Raw record validation against a dataset contract, with Spark built-ins only (no Python UDFs).

Every raw line is parsed once (`from_json` into the contract's columns, all as text), each column is
checked and converted by its text, and the first failing rule — in the order of `REASONS` — names
the row's quarantine reason. Values are judged by their text: `42` and `"42"` are the same int, a
string column accepts any scalar (numbers keep their JSON text) but not an object or array, and
timestamps must be ISO-8601 with a zone (`Z` or `±hh:mm`).

The hot path computes only the reason code; `classify(..., messages=True)` adds the column and a
human message, and is applied to rejected lines alone (the quarantine pass).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Optional, Sequence

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .contract import Column, JobContract
from .spark import spark_type

#: Quarantine reason codes, in the order rules are checked (the first that fails names the row).
#: `unreadable_object` is checked per object before any line: the whole object is one record.
REASONS: dict[str, str] = {
    "unreadable_object": "the object's bytes cannot be read as gzip/plain UTF-8 text (corrupt or truncated compression, not UTF-8): the whole object is one record",
    "oversized_record": "the line is longer than --max_record_bytes",
    "blank_line": "the line is empty or whitespace only",
    "not_a_json_object": "the line is unparseable as an object and starts like an array, string or number, or is true/false/null",
    "malformed_json": "not parseable JSON: truncated, garbage, text after the object, or two objects on one line",
    "missing_required": "a required column is absent, null, or an empty string",
    "wrong_type": "a value does not fit its column type (number, decimal scale/precision, boolean, string)",
    "invalid_timestamp": "a timestamp/date that is not ISO-8601 with a zone, or not a real instant",
    "partition_value_not_allowed": "an enum partition column holds a value outside the environment's list",
    "before_partition_range": "the event date precedes the date key's projection rangeStart (Athena cannot see it)",
    "event_in_future": "the event date is more than --max_future_days after --as_of",
    "duplicate_superseded": "another version of the same key in the same partition won (later version, or identical copy)",
}

_NUMBER = r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_TWO_VALUES = r"\}\s*\{"
_CONTAINER = r'^(\{("|\})|\[(["\[\{\]0-9tfn-]))'
#: First characters of a JSON text that is not an object: array, string, number.
_NON_OBJECT_START = ("[", '"', "-", *"0123456789")
_SHOW = 80  # characters of an offending value quoted in a message
_CORRUPT = "_corrupt"

RAW_COLUMNS = ("_record", "_source_file")


@dataclass(frozen=True)
class ValidationOptions:
    #: Lines longer than this (UTF-8 bytes) are quarantined unparsed.
    max_record_bytes: int = 1_048_576
    #: Reference "now" for the future-date rule; fixed per run so reruns agree.
    as_of: _dt.datetime = _dt.datetime(2100, 1, 1, tzinfo=_dt.timezone.utc)
    #: Events dated more than this many days after as_of are quarantined.
    max_future_days: int = 1


@dataclass(frozen=True)
class Rule:
    reason: str
    column: Optional[str]
    failed: SparkColumn
    message: SparkColumn


def _shown(text: SparkColumn) -> SparkColumn:
    return F.substring(text, 1, _SHOW)


def _convert(col: Column, text: SparkColumn, value: SparkColumn) -> tuple[SparkColumn, SparkColumn, str]:
    """(typed value expression, condition that the present text does not fit, reason code).

    The condition reads `value`, the already computed typed value: Spark does not share common
    subexpressions into the later branches of a CASE, so each cast would otherwise run twice."""
    t = col.type
    if t == "string":
        # A JSON object or array where a scalar is expected. The parser hands back a container's
        # compact JSON text ('{"k":...}', '[1,...]'), which is what is recognised here; a string
        # whose whole text looks like one is rejected too. (No get_json_object: it is a codegen
        # fallback and would slow the whole projection.)
        container = F.when(text.startswith("{") | text.startswith("["), text.rlike(_CONTAINER)).otherwise(F.lit(False))
        return text, container, "wrong_type"
    if t in ("int", "bigint"):
        digits = 10 if t == "int" else 19
        return text.cast(spark_type(t)), ~text.rlike(rf"^-?\d{{1,{digits}}}$") | value.isNull(), "wrong_type"
    if t == "double":
        return text.cast("double"), ~text.rlike(_NUMBER) | value.isNull(), "wrong_type"
    if t == "boolean":
        return text == F.lit("true"), ~text.isin("true", "false"), "wrong_type"
    if t == "timestamp":
        return text.cast("timestamp"), ~text.rlike(_TIMESTAMP) | value.isNull(), "invalid_timestamp"
    if t == "date":
        return text.cast("date"), ~text.rlike(_DATE) | value.isNull(), "invalid_timestamp"
    precision, scale = col.decimal  # type: ignore[misc]
    # More decimal places than the scale would be rounded silently by the cast: reject instead.
    exact = text.cast(T.DecimalType(38, 18))
    return (
        text.cast(T.DecimalType(precision, scale)),
        ~text.rlike(_NUMBER) | value.isNull() | (exact != value.cast(T.DecimalType(38, 18))),
        "wrong_type",
    )


def _type_message(col: Column, text: SparkColumn, reason: str) -> SparkColumn:
    if reason == "invalid_timestamp":
        what = (
            "an ISO-8601 date (yyyy-MM-dd)"
            if col.type == "date"
            else "an ISO-8601 timestamp with a zone, e.g. 2024-05-01T13:45:00Z"
        )
    elif col.decimal:
        what = f"a {col.type} (at most {col.decimal[0] - col.decimal[1]} integer digits and {col.decimal[1]} decimal places)"
    elif col.type == "string":
        what = "a string (got a JSON object or array)"
    else:
        what = f"a {col.type}"
    return F.concat(F.lit(f'{col.name}: "'), _shown(text), F.lit(f'" is not {what}'))


def _utc_part(text: SparkColumn, ts: SparkColumn, start: int, length: int, pattern: str) -> SparkColumn:
    """A UTC date/hour of an ISO timestamp: straight from the text when it ends in Z (cheap), else formatted."""
    return F.when(text.endswith("Z"), F.substring(text, start, length)).otherwise(F.date_format(ts, pattern))


class Validator:
    """The typed columns, partition values and rules of one contract, as Spark expressions over a
    frame with `_record`, `_source_file` and the parsed text struct `_s` (see `parse`)."""

    def __init__(self, contract: JobContract, options: ValidationOptions):
        self.contract = contract
        self.options = options
        s = {c.name: F.col("_s").getField(c.name) for c in contract.columns}
        #: Computed in a first projection (`_v_<column>`, `_p_<key>`), read by the rules in a second.
        self.values: dict[str, SparkColumn] = {}
        self.typed: dict[str, SparkColumn] = {}
        missing, types = [], []
        for col in contract.columns:
            t = s[col.name]
            self.typed[col.name] = F.col(f"_v_{col.name}")
            expression, misfit, reason = _convert(col, t, self.typed[col.name])
            self.values[f"_v_{col.name}"] = expression
            if col.required:
                # (trim only when the text starts with a space: it allocates, and this runs on every row)
                absent = (
                    (t.isNull() | (t == "") | (t.startswith(" ") & (F.trim(t) == "")))
                    if col.type == "string"
                    else t.isNull()
                )
                message = F.concat(
                    F.lit(f"{col.name}: required "),
                    F.when(t.isNull(), F.lit("value is missing or null")).otherwise(F.lit("value is empty")),
                )
                missing.append(Rule("missing_required", col.name, absent, message))
            types.append(Rule(reason, col.name, t.isNotNull() & misfit, _type_message(col, t, reason)))

        event_text = s[contract.event_time_column]
        event_ts = self.typed[contract.event_time_column]
        self.partition_values: dict[str, SparkColumn] = {}
        enum_rules, range_rules = [], []
        for key in contract.partition_keys:
            if key.type == "date":
                self.values[f"_p_{key.name}"] = _utc_part(event_text, event_ts, 1, 10, "yyyy-MM-dd")
                day = self.partition_values[key.name] = F.col(f"_p_{key.name}")
                where = f"{contract.event_time_column}: event date "
                range_rules.append(
                    Rule(
                        "before_partition_range",
                        contract.event_time_column,
                        day < F.lit(key.range_start),
                        F.concat(
                            F.lit(where),
                            day,
                            F.lit(
                                f" is before {key.name} rangeStart {key.range_start}; Athena's partition projection would never read it"
                            ),
                        ),
                    )
                )
                horizon = (options.as_of + _dt.timedelta(days=options.max_future_days)).strftime("%Y-%m-%d")
                range_rules.append(
                    Rule(
                        "event_in_future",
                        contract.event_time_column,
                        day > F.lit(horizon),
                        F.concat(
                            F.lit(where),
                            day,
                            F.lit(
                                f" is after {horizon} (as_of {options.as_of.strftime('%Y-%m-%d')} + {options.max_future_days} day(s))"
                            ),
                        ),
                    )
                )
            elif key.type == "hour":
                self.values[f"_p_{key.name}"] = _utc_part(event_text, event_ts, 12, 2, "HH")
                self.partition_values[key.name] = F.col(f"_p_{key.name}")
            else:
                value = s[key.column]
                self.partition_values[key.name] = value
                enum_rules.append(
                    Rule(
                        "partition_value_not_allowed",
                        key.column,
                        ~value.isin(*key.values),
                        F.concat(
                            F.lit(f'{key.column}: "'),
                            _shown(value),
                            F.lit(f'" is not one of {", ".join(key.values)} (partition key {key.name})'),
                        ),
                    )
                )

        record, text = F.col("_record"), F.col("_text")
        parse_rules = [
            Rule(
                "oversized_record",
                None,
                F.octet_length(record) > F.lit(options.max_record_bytes),
                F.concat(
                    F.lit("record is "),
                    F.octet_length(record).cast("string"),
                    F.lit(f" bytes; the limit is {options.max_record_bytes}"),
                ),
            ),
            Rule("blank_line", None, F.col("_s").isNull(), F.lit("empty line")),
            Rule(
                "not_a_json_object",
                None,
                F.col(f"_s.{_CORRUPT}").isNotNull()
                & (
                    F.substring(F.ltrim(text), 1, 1).isin(*_NON_OBJECT_START)
                    | F.trim(text).isin("true", "false", "null")
                ),
                F.concat(
                    F.lit("the line holds a JSON "),
                    F.when(F.ltrim(text).startswith("["), F.lit("array"))
                    .when(F.ltrim(text).startswith('"'), F.lit("string"))
                    .when(F.trim(text).isin("true", "false"), F.lit("boolean"))
                    .when(F.trim(text) == "null", F.lit("null"))
                    .otherwise(F.lit("number")),
                    F.lit(", not an object"),
                ),
            ),
            Rule(
                "malformed_json",
                None,
                F.col(f"_s.{_CORRUPT}").isNotNull(),
                F.lit("the line is not valid JSON (truncated or garbage)"),
            ),
            Rule(
                "malformed_json",
                None,
                ~text.endswith("}") & ~F.rtrim(text).endswith("}"),
                F.lit("text follows the JSON object on the same line"),
            ),
            # Cheap substring gate first; the string-stripping regex runs only on lines that pass it.
            Rule(
                "malformed_json",
                None,
                (text.contains("}{") | text.contains("} {"))
                & F.regexp_replace(text, _JSON_STRING, '""').rlike(_TWO_VALUES),
                F.lit("two JSON objects on one line (a missing newline)"),
            ),
        ]
        self.rules = parse_rules + missing + types + enum_rules + range_rules

    def reason(self) -> SparkColumn:
        """The first failing rule's reason code, null for a good row (the hot path: literals only)."""
        verdict = None
        for rule in self.rules:
            verdict = (
                F.when(rule.failed, F.lit(rule.reason))
                if verdict is None
                else verdict.when(rule.failed, F.lit(rule.reason))
            )
        return verdict

    def verdict(self) -> SparkColumn:
        """struct(reason, column, message) of the first failing rule, null for a good row."""
        verdict = None
        for rule in self.rules:
            value = F.struct(
                F.lit(rule.reason).alias("reason"),
                F.lit(rule.column).cast("string").alias("column"),
                rule.message.alias("message"),
            )
            verdict = F.when(rule.failed, value) if verdict is None else verdict.when(rule.failed, value)
        return verdict


def parse(raw: DataFrame, contract: JobContract, options: ValidationOptions, keep: Sequence[str] = ()) -> DataFrame:
    """`raw` (`_record`, `_source_file`) plus `_text` (without a leading byte-order mark) and `_s`,
    the contract's columns as JSON text (null for a blank line; `_s._corrupt` set when unparseable)."""
    schema = T.StructType(
        [T.StructField(c.name, T.StringType()) for c in contract.columns] + [T.StructField(_CORRUPT, T.StringType())]
    )
    # A UTF-8 byte-order mark at the start of a file is an encoding artefact, not data.
    text = F.when(F.col("_record").startswith("\ufeff"), F.expr("substring(_record, 2)")).otherwise(F.col("_record"))
    df = raw.select(*RAW_COLUMNS, *keep, text.alias("_text"))
    # An oversized line is not parsed (`_s` null); the first rule rejects it before blank_line could.
    parsed = F.when(
        F.octet_length("_record") <= F.lit(options.max_record_bytes),
        F.from_json("_text", schema, {"columnNameOfCorruptRecord": _CORRUPT, "mode": "PERMISSIVE"}),
    )
    return df.select("*", parsed.alias("_s"))


def classify(
    raw: DataFrame, contract: JobContract, options: ValidationOptions, messages: bool = False, keep: Sequence[str] = ()
) -> DataFrame:
    """`raw` plus `_reason` (null for a good row), the typed contract columns and the partition columns.
    With `messages`, also `_column` and `_message`. Columns named in `keep` are carried through."""
    v = Validator(contract, options)
    names = [c.name for c in contract.columns]
    df = parse(raw, contract, options, keep)
    # Typed values first: the partition values need them, and the rules read them as columns.
    df = df.select("*", *[expr.alias(name) for name, expr in v.values.items() if name.startswith("_v_")])
    df = df.select("*", *[expr.alias(name) for name, expr in v.values.items() if name.startswith("_p_")])
    extra = []
    if messages:
        extra = [F.col("_verdict.column").alias("_column"), F.col("_verdict.message").alias("_message")]
        df = df.select("*", v.verdict().alias("_verdict"))
        reason = F.col("_verdict.reason")
    else:
        reason = v.reason()
    return df.select(
        *RAW_COLUMNS,
        *keep,
        reason.alias("_reason"),
        *extra,
        *[v.typed[c.name].alias(c.name) for c in contract.columns],
        *[value.alias(n) for n, value in v.partition_values.items() if n not in names],
    )


def unexpected_columns(raw: DataFrame, contract: JobContract, sample: int) -> dict[str, int]:
    """Keys the contract does not know, counted over the first `sample` lines (schema drift is
    reported, not rejected; a sample keeps the check off the hot path)."""
    names = [c.name for c in contract.columns]
    keys = raw.limit(sample).select(
        F.explode(F.array_except(F.json_object_keys("_record"), F.array(*[F.lit(n) for n in names]))).alias("k")
    )
    return {r["k"]: r["n"] for r in keys.groupBy("k").agg(F.count(F.lit(1)).alias("n")).collect()}
