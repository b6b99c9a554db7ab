"""raw → processed through the real job (`main(argv)` in local mode): partition layout for the dev
and prod specs, deduplication, schema drift, reruns and merges, and the outputs' formats."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from support import (
    DROP,
    contents,
    files,
    line,
    order,
    quarantine_records,
    raw_to_processed,
    read_partitioned,
    write_lines,
)

UTC = dt.timezone.utc


def day_orders() -> list[str]:
    """Five orders over two UTC days and two regions."""
    return [
        line(order(1)),
        line(order(2, region="us", amount="5.50")),
        line(order(3, order_ts="2024-05-02T08:00:00Z", updated_at="2024-05-02T08:00:00Z")),
        line(order(4, region="us", order_ts="2024-05-02T23:59:59Z", updated_at="2024-05-02T23:59:59Z")),
        line(order(5, order_ts="2024-05-01T23:59:59.999999Z")),
    ]


@pytest.mark.parametrize(
    "env, expected",
    [
        ("dev", ["dt=2024-05-01/part-00000.snappy.parquet", "dt=2024-05-02/part-00000.snappy.parquet"]),
        (
            "prod",
            [
                "dt=2024-05-01/region=eu/part-00000.snappy.parquet",
                "dt=2024-05-01/region=us/part-00000.snappy.parquet",
                "dt=2024-05-02/region=eu/part-00000.snappy.parquet",
                "dt=2024-05-02/region=us/part-00000.snappy.parquet",
            ],
        ),
    ],
)
def test_partition_layout_follows_the_environment(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path, env: str, expected: list[str]
) -> None:
    write_lines(tmp_path / "raw" / "a.jsonl", day_orders())
    summary = raw_to_processed(spark, contracts[env]["orders"], tmp_path / "raw", tmp_path / "out")
    assert files(tmp_path / "out" / "processed") == expected
    assert [p["path"] for p in summary["processed"]["partitions"]] == sorted(
        {e.rsplit("/", 1)[0] + "/" for e in expected}
    )
    # Where each order went: the UTC day of order_ts (PartitionLayout's rule), plus the region in prod.
    placed = {
        r["order_id"]: "/".join(f"{k}={r[k]}" for k in (["dt", "region"] if env == "prod" else ["dt"]))
        for r in read_partitioned(tmp_path / "out" / "processed")
    }

    def region(r: str) -> str:
        return f"/region={r}" if env == "prod" else ""

    assert placed == {
        "o-001": f"dt=2024-05-01{region('eu')}",
        "o-002": f"dt=2024-05-01{region('us')}",
        "o-003": f"dt=2024-05-02{region('eu')}",
        "o-004": f"dt=2024-05-02{region('us')}",
        "o-005": f"dt=2024-05-01{region('eu')}",
    }
    # Files hold the data columns only, typed as the catalog declares them; partition columns live in the path.
    schema = pq.read_schema(tmp_path / "out" / "processed" / expected[0])
    data_columns = [
        c["name"]
        for c in contracts[env]["orders"]["columns"]
        if c["name"] not in (["dt", "region"] if env == "prod" else ["dt"])
    ]
    assert schema.names == data_columns
    assert str(schema.field("amount").type) == "decimal128(12, 2)"
    assert str(schema.field("order_ts").type) == "timestamp[us, tz=UTC]"


def test_output_is_readable_by_duckdb_as_athena_would_query_it(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    write_lines(tmp_path / "raw" / "a.jsonl", day_orders())
    raw_to_processed(spark, contracts["prod"]["orders"], tmp_path / "raw", tmp_path / "out")
    got = duckdb.sql(
        f"select region, count(*), sum(amount) from read_parquet('{tmp_path}/out/processed/**/*.parquet', hive_partitioning=true) "
        "where dt = '2024-05-01' group by region order by region"
    ).fetchall()
    assert got == [("eu", 2, Decimal("20.00")), ("us", 1, Decimal("5.50"))]


def test_deduplication_keeps_the_latest_version_and_quarantines_the_rest(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    versions = [
        line(order(1, status="paid", updated_at="2024-05-01T11:00:00Z")),
        line(order(1, status="placed", updated_at="2024-05-01T10:00:00Z")),
        line(order(1, status="shipped", updated_at="2024-05-01T12:00:00.5Z")),
        line(order(2)),
        line(order(2)),  # an exact repeat
    ]
    write_lines(tmp_path / "raw" / "a.jsonl", versions[:3])
    write_lines(tmp_path / "raw" / "b.jsonl", versions[3:])
    summary = raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
    rows = read_partitioned(tmp_path / "out" / "processed")
    assert [(r["order_id"], r["status"], r["updated_at"]) for r in rows] == [
        ("o-001", "shipped", dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("o-002", "placed", dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ]
    quarantined = quarantine_records(tmp_path / "out" / "quarantine")
    assert sorted((q["reason"], q["record"]) for q in quarantined) == sorted(
        [
            ("duplicate_superseded", versions[0]),
            ("duplicate_superseded", versions[1]),
            ("duplicate_superseded", versions[3]),
        ]
    )
    assert summary["input"]["records"] == 5
    assert summary["processed"]["records"] == 2
    assert summary["quarantined"]["byReason"] == {"duplicate_superseded": 3}


def test_a_version_in_another_partition_is_a_separate_row(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    # Deduplication is per partition: an order whose event time moved to another day is kept in both.
    write_lines(
        tmp_path / "raw" / "a.jsonl",
        [line(order(1)), line(order(1, order_ts="2024-05-02T01:00:00Z", updated_at="2024-05-02T01:00:00Z"))],
    )
    raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
    assert sorted((r["dt"], r["order_id"]) for r in read_partitioned(tmp_path / "out" / "processed")) == [
        ("2024-05-01", "o-001"),
        ("2024-05-02", "o-001"),
    ]


class TestSchemaDrift:
    def test_a_new_column_is_ignored_and_reported(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        write_lines(
            tmp_path / "raw" / "a.jsonl",
            [line({**order(1), "coupon": "X", "channel": "web"}), line({**order(2), "coupon": "Y"})],
        )
        summary = raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
        assert summary["processed"]["records"] == 2
        assert summary["unexpectedColumns"] == {"sampledRecords": 10000, "columns": {"channel": 1, "coupon": 2}}
        assert (
            "coupon"
            not in pq.read_schema(tmp_path / "out" / "processed" / "dt=2024-05-01" / "part-00000.snappy.parquet").names
        )

    def test_a_missing_optional_column_is_null(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        shipment = {
            "shipment_id": "s-1",
            "order_id": "o-1",
            "carrier": "dhl",
            "status": "in_transit",
            "region": "eu",
            "shipped_at": "2024-05-01T10:00:00Z",
            "updated_at": "2024-05-01T10:00:00Z",
        }
        write_lines(
            tmp_path / "raw" / "a.jsonl", [line(shipment), line({**shipment, "shipment_id": "s-2", "weight_kg": 1.25})]
        )
        summary = raw_to_processed(spark, contracts["prod"]["shipments"], tmp_path / "raw", tmp_path / "out")
        assert summary["quarantined"]["records"] == 0
        assert [(r["shipment_id"], r["weight_kg"]) for r in read_partitioned(tmp_path / "out" / "processed")] == [
            ("s-1", None),
            ("s-2", 1.25),
        ]

    def test_a_missing_required_column_is_quarantined(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        write_lines(tmp_path / "raw" / "a.jsonl", [line(order(1, currency=DROP)), line(order(2))])
        summary = raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
        [q] = quarantine_records(tmp_path / "out" / "quarantine")
        assert (q["reason"], q["column"], q["message"]) == (
            "missing_required",
            "currency",
            "currency: required value is missing or null",
        )
        assert [r["order_id"] for r in read_partitioned(tmp_path / "out" / "processed")] == ["o-002"]
        assert summary["quarantined"]["byReason"] == {"missing_required": 1}


def test_reads_gzip_and_plain_files_in_nested_folders(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    write_lines(tmp_path / "raw" / "dt=2024-05-01" / "a.jsonl.gz", [line(order(1)), line(order(2))])
    write_lines(tmp_path / "raw" / "dt=2024-05-01" / "late" / "b.json", [line(order(3))])
    write_lines(tmp_path / "other" / "c.jsonl", [line(order(4))])
    summary = raw_to_processed(
        spark, contracts["dev"]["orders"], f"{tmp_path / 'raw'},{tmp_path / 'other' / 'c.jsonl'}", tmp_path / "out"
    )
    assert summary["input"]["records"] == 4
    assert sorted(r["order_id"] for r in read_partitioned(tmp_path / "out" / "processed")) == [
        "o-001",
        "o-002",
        "o-003",
        "o-004",
    ]


class TestReruns:
    def test_a_rerun_gives_identical_output(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        lines = day_orders() + [
            line(order(1, status="paid", updated_at="2024-05-01T12:00:00Z")),
            '{"order_id": "broken"',
            line(order(9, amount="x")),
        ]
        write_lines(tmp_path / "raw" / "a.jsonl", lines)
        first = raw_to_processed(spark, contracts["prod"]["orders"], tmp_path / "raw", tmp_path / "out", run_id="run-1")
        before = contents(tmp_path / "out" / "processed")
        q_before = quarantine_records(tmp_path / "out" / "quarantine")
        second = raw_to_processed(
            spark, contracts["prod"]["orders"], tmp_path / "raw", tmp_path / "out", run_id="run-2"
        )
        assert contents(tmp_path / "out" / "processed") == before
        assert len(before) == 4
        # Quarantine: the rerun rewrote the object's file with the same rows (not a second copy).
        q_after = quarantine_records(tmp_path / "out" / "quarantine")
        assert q_after == q_before and len(q_after) == 3

        def strip(s: dict) -> dict:
            return {k: v for k, v in s.items() if k != "runId"}

        assert strip(second) == strip(first)

    def test_batches_converge_on_the_same_files_as_one_run(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        early = [line(order(1)), line(order(2)), line(order(3, status="paid", updated_at="2024-05-01T12:00:00Z"))]
        late = [line(order(1, status="paid", updated_at="2024-05-01T11:00:00Z")), line(order(3)), line(order(4))]
        write_lines(tmp_path / "raw" / "early.jsonl", early)
        write_lines(tmp_path / "raw" / "late.jsonl", late)
        contract = contracts["dev"]["orders"]
        raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "all-at-once")
        raw_to_processed(spark, contract, tmp_path / "raw" / "early.jsonl", tmp_path / "batched", run_id="b1")
        summary = raw_to_processed(spark, contract, tmp_path / "raw" / "late.jsonl", tmp_path / "batched", run_id="b2")
        assert contents(tmp_path / "batched" / "processed") == contents(tmp_path / "all-at-once" / "processed")
        rows = {r["order_id"]: r["status"] for r in read_partitioned(tmp_path / "batched" / "processed")}
        assert rows == {"o-001": "paid", "o-002": "placed", "o-003": "paid", "o-004": "placed"}
        # The late batch: o-003's older version lost to the stored one and is quarantined with its text.
        [q] = quarantine_records(tmp_path / "batched" / "quarantine")
        assert q["reason"] == "duplicate_superseded" and q["record"] == late[1]
        assert q["message"].endswith("(already in processed); this row's updated_at is 2024-05-01T10:00:00.000000Z")
        assert summary["input"]["records"] == 3 and summary["processed"]["records"] == 2
        assert summary["processed"]["partitions"] == [
            {"path": "dt=2024-05-01/", "rows": 4, "files": ["part-00000.snappy.parquet"]}
        ]

    def test_rebuild_replaces_touched_partitions_with_this_runs_rows(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        write_lines(
            tmp_path / "raw" / "one.jsonl",
            [line(order(1)), line(order(2, order_ts="2024-05-02T10:00:00Z", updated_at="2024-05-02T10:00:00Z"))],
        )
        write_lines(tmp_path / "raw" / "two.jsonl", [line(order(3))])
        contract = contracts["dev"]["orders"]
        raw_to_processed(spark, contract, tmp_path / "raw" / "one.jsonl", tmp_path / "out")
        raw_to_processed(spark, contract, tmp_path / "raw" / "two.jsonl", tmp_path / "out", rebuild="true")
        assert sorted((r["dt"], r["order_id"]) for r in read_partitioned(tmp_path / "out" / "processed")) == [
            ("2024-05-01", "o-003"),
            ("2024-05-02", "o-002"),
        ]  # dt=2024-05-02 was not touched

    def test_a_clean_rerun_clears_the_previous_quarantine(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        write_lines(tmp_path / "raw" / "a.jsonl", [line(order(1)), "not json"])
        raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
        key = f"{str(tmp_path).lstrip('/')}/raw/a.jsonl"
        assert files(tmp_path / "out" / "quarantine") == [f"objects/{key}.json", "runs/run-1.json"]
        write_lines(tmp_path / "raw" / "a.jsonl", [line(order(1))])
        summary = raw_to_processed(
            spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out", run_id="run-2"
        )
        # The object's rejects were replaced by its clean rerun; each run keeps its own summary.
        assert files(tmp_path / "out" / "quarantine") == ["runs/run-1.json", "runs/run-2.json"]
        assert summary["quarantined"] == {
            "path": str(tmp_path / "out" / "quarantine"),
            "records": 0,
            "byReason": {},
            "files": [],
        }


def test_empty_input_writes_nothing(spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    summary = raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
    assert summary["input"]["records"] == 0 and summary["processed"]["partitions"] == [] and summary["touched"] == []
    assert files(tmp_path / "out") == ["quarantine/runs/run-1.json"]


def test_the_run_summary_file(spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
    write_lines(
        tmp_path / "raw" / "a.jsonl", [line(order(1)), line(order(2, region="mars")), line(order(3, amount="?"))]
    )
    summary = raw_to_processed(spark, contracts["prod"]["orders"], tmp_path / "raw", tmp_path / "out")
    on_disk = json.loads((tmp_path / "out" / "quarantine" / "runs" / "run-1.json").read_text())
    assert on_disk == summary
    key = f"{str(tmp_path).lstrip('/')}/raw/a.jsonl"
    size = (tmp_path / "raw" / "a.jsonl").stat().st_size
    assert summary == {
        "job": "raw_to_processed",
        "dataset": "orders",
        "runId": "run-1",
        "asOf": "2024-06-01T00:00:00Z",
        "input": {"paths": [str(tmp_path / "raw")], "objects": 1, "bytes": size, "records": 3},
        "objects": {
            "read": 1,
            "empty": 0,
            "unreadable": 0,
            "missing": 0,
            "byObject": [{"key": key, "size": size, "status": "read", "records": 3, "quarantined": 2}],
        },
        "setAside": [],
        "processed": {
            "path": str(tmp_path / "out" / "processed"),
            "records": 1,
            "partitions": [{"path": "dt=2024-05-01/region=eu/", "rows": 1, "files": ["part-00000.snappy.parquet"]}],
        },
        "touched": [{"dt": "2024-05-01", "region": "eu"}],
        "quarantined": {
            "path": str(tmp_path / "out" / "quarantine"),
            "records": 2,
            "byReason": {"wrong_type": 1, "partition_value_not_allowed": 1},
            "files": [f"{key}.json"],
        },
        "unexpectedColumns": {"sampledRecords": 10000, "columns": {}},
        "reconciled": True,
    }


def test_quarantine_records_keep_the_original_text(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    odd = '{"order_id": "o-001",   "amount": "x"}  '
    write_lines(tmp_path / "raw" / "a.jsonl", [odd])
    raw_to_processed(spark, contracts["dev"]["orders"], tmp_path / "raw", tmp_path / "out")
    key = f"{str(tmp_path).lstrip('/')}/raw/a.jsonl"
    text = (tmp_path / "out" / "quarantine" / "objects" / f"{key}.json").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in text] == [
        {
            "dataset": "orders",
            "job": "raw_to_processed",
            "reason": "missing_required",
            "column": "customer_id",
            "message": "customer_id: required value is missing or null",
            "record": odd,
            "source_key": key,
            "line": 1,
            "size": None,
        }
    ]


def test_bad_arguments_fail_with_the_argument_named(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    from dataplat_glue.contract import ContractError

    with pytest.raises(
        ContractError, match=r"^dataset_contract orders: primaryKey: must be a list \(got None\); eventTimeColumn: "
    ):
        raw_to_processed(spark, {"name": "orders", "columns": []}, tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="argument --max_record_bytes must be an integer"):
        raw_to_processed(spark, contracts["dev"]["orders"], tmp_path, tmp_path / "out", max_record_bytes="lots")
    with pytest.raises(ValueError, match="argument --rebuild must be true or false"):
        raw_to_processed(spark, contracts["dev"]["orders"], tmp_path, tmp_path / "out", rebuild="yes")


def test_an_input_where_every_line_is_rejected(spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
    write_lines(tmp_path / "raw" / "a.jsonl", ["garbage", "[1]", line(order(1, amount="?"))])
    summary = raw_to_processed(spark, contracts["prod"]["orders"], tmp_path / "raw", tmp_path / "out")
    assert (summary["input"]["records"], summary["processed"]["records"], summary["quarantined"]["records"]) == (
        3,
        0,
        3,
    )
    assert summary["quarantined"]["byReason"] == {"not_a_json_object": 1, "malformed_json": 1, "wrong_type": 1}
    assert files(tmp_path / "out" / "processed") == [] if (tmp_path / "out" / "processed").exists() else True
