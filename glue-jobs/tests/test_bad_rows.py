"""The bad-row corpus (bad_rows.py) through the real raw → processed job, for dev and prod: every
case ends processed or in quarantine with its reason, and nothing is lost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pyspark.sql import SparkSession

from bad_rows import CASES, Case, MAX_RECORD_BYTES, corpus_files, markdown_table
from support import GLUE, quarantine_records, raw_to_processed, read_partitioned, write_lines

#: One environment's corpus run: (env, run summary, quarantine records, processed rows by order_id).
Corpus = tuple[str, dict, list[dict[str, Any]], dict[str, dict[str, Any]]]


@pytest.fixture(scope="module", params=["dev", "prod"])
def corpus(
    request: pytest.FixtureRequest,
    spark: SparkSession,
    contracts: dict[str, dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> Corpus:
    env = request.param
    work = tmp_path_factory.mktemp(f"corpus-{env}")
    for name, lines in corpus_files().items():
        write_lines(work / "raw" / name, lines, newline="\r\n" if name == "crlf.jsonl" else "\n")
    summary = raw_to_processed(
        spark, contracts[env]["orders"], work / "raw", work / "out", max_record_bytes=MAX_RECORD_BYTES
    )
    processed = {row["order_id"]: row for row in read_partitioned(work / "out" / "processed")}
    return env, summary, quarantine_records(work / "out" / "quarantine"), processed


def test_corpus_is_big_enough() -> None:
    reasons = {c.outcome(env) for c in CASES for env in ("dev", "prod")} - {None}
    assert len([c for c in CASES if c.reason or c.prod_reason]) >= 12
    # every line-level reason code is exercised (unreadable_object is a whole object's: test_incremental.py)
    from dataplat_glue.validate import REASONS

    assert reasons == set(REASONS) - {"unreadable_object"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_outcome(corpus: Corpus, case: Case) -> None:
    env, _, quarantined, processed = corpus
    reason = case.outcome(env)
    mine = [q for q in quarantined if q["record"] == case.line]
    if reason is None:
        assert mine == []
        row = processed[case.order_id]
        for key, value in case.expect.items():
            assert row[key] == value, key
    else:
        assert [(q["reason"], q["column"]) for q in mine] == [
            (reason, case.column if reason != "duplicate_superseded" else None)
        ]
        assert mine[0]["message"]
        assert mine[0]["dataset"] == "orders" and mine[0]["job"] == "raw_to_processed" and mine[0]["line"] >= 1
        assert mine[0]["source_key"].endswith(case.file)
        if case.companion is not None:
            row = processed[case.order_id]
            for key, value in case.expect.items():
                assert row[key] == value, key
        elif case.order_id is not None and reason != "malformed_json":
            assert case.order_id not in processed


def test_counts_reconcile(corpus: Corpus) -> None:
    env, summary, quarantined, processed = corpus
    lines = sum(len(v) for v in corpus_files().values())
    expected = Counter(c.outcome(env) for c in CASES if c.outcome(env))
    assert summary["input"]["records"] == lines
    assert summary["quarantined"]["byReason"] == dict(expected)
    assert summary["quarantined"]["records"] == len(quarantined) == sum(expected.values())
    assert summary["processed"]["records"] == len(processed) == lines - sum(expected.values())
    assert summary["reconciled"] is True
    assert summary["unexpectedColumns"]["columns"] == {"Order_ID": 1, "coupon": 1}


def test_messages_name_the_problem(corpus: Corpus) -> None:
    env, _, quarantined, _ = corpus
    by_record = {q["record"]: q["message"] for q in quarantined}
    case = {c.id: c for c in CASES}
    assert (
        by_record[case["decimal_scale"].line]
        == 'amount: "12.345" is not a decimal(12,2) (at most 10 integer digits and 2 decimal places)'
    )
    assert by_record[case["null_required"].line] == "currency: required value is missing or null"
    assert (
        by_record[case["ts_no_zone"].line]
        == 'order_ts: "2024-05-01T10:00:00" is not an ISO-8601 timestamp with a zone, e.g. 2024-05-01T13:45:00Z'
    )
    assert by_record[case["before_range"].line] == (
        "order_ts: event date 2023-12-31 is before dt rangeStart 2024-01-01; Athena's partition projection would never read it"
    )
    assert by_record[case["older_version"].line] == (
        f"order_id=o-034 in dt=2024-05-01/{'region=eu/' if env == 'prod' else ''}: kept the version with updated_at "
        "2024-05-01T11:00:00.000000Z; this row's updated_at is 2024-05-01T09:00:00.000000Z"
    )
    assert by_record[case["oversized"].line].startswith(
        f"record is {len(case['oversized'].line.encode())} bytes; the limit is {MAX_RECORD_BYTES}"
    )
    if env == "prod":
        assert (
            by_record[case["region_unknown"].line] == 'region: "mars" is not one of eu, us, apac (partition key region)'
        )


def test_readme_documents_the_corpus() -> None:
    readme = (GLUE / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, (
        "glue-jobs/README.md is out of date: paste `python glue-jobs/tests/bad_rows.py` into it"
    )


def test_bad_inputs_page_table_is_the_corpus() -> None:
    page = (GLUE.parent / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    start, end = "<!-- generated:bad-inputs-glue:start -->", "<!-- generated:bad-inputs-glue:end -->"
    assert start in page and end in page, "docs/bad-inputs.md lost its bad-inputs-glue block"
    block = page[page.index(start) : page.index(end)]
    assert markdown_table() in block, (
        "docs/bad-inputs.md's Glue bad-row table is out of date: run `npm run docs:diagrams`"
    )
    assert f"{len(CASES)} kinds of rows" in block
