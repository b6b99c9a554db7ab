"""processed → consumer through the real job: the orders_daily aggregate (exact values, both
partition specs), the curated copy, reruns, and rebuilding selected dates only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from dataplat_glue import processed_to_consumer
from support import contents, files, hashes, line, order, raw_to_processed, read_partitioned, run_job, write_lines

ORDERS = [
    order(1, customer_id="c-1", amount="10.00"),
    order(2, customer_id="c-2", amount="5.50"),
    order(3, customer_id="c-1", amount="4.50"),
    order(4, customer_id="c-3", amount="7.00", status="paid"),
    order(5, customer_id="c-4", amount="1.25", region="us", currency="USD"),
    order(6, customer_id="c-1", amount="2.00", order_ts="2024-05-02T09:00:00Z", updated_at="2024-05-02T09:00:00Z"),
    # a superseded version: must not be counted
    order(6, customer_id="c-1", amount="99.00", order_ts="2024-05-02T09:00:00Z", updated_at="2024-05-02T08:00:00Z"),
]


def seed(spark: SparkSession, contract: dict, tmp_path: Path, records: list[dict[str, Any]] = ORDERS) -> Path:
    write_lines(tmp_path / "raw" / "orders.jsonl", [line(r) for r in records])
    raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "out")
    return tmp_path / "out" / "processed"


def to_consumer(spark: SparkSession, contract: dict, processed: Path, out: Path, **args: Any) -> dict:
    return run_job(processed_to_consumer, spark, contract, input_path=processed, output_path=out, run_id="c-1", **args)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_orders_daily_aggregates_each_partition(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path, env: str
) -> None:
    contract = contracts[env]["orders"]
    summary = to_consumer(spark, contract, seed(spark, contract, tmp_path), tmp_path / "consumer")
    rows = sorted(read_partitioned(tmp_path / "consumer"), key=lambda r: (r["dt"], r["region"], r["status"]))
    assert [
        (r["dt"], r["region"], r["status"], r["currency"], r["order_count"], r["revenue"], r["customer_count"])
        for r in rows
    ] == [
        ("2024-05-01", "eu", "paid", "EUR", 1, Decimal("7.00"), 1),
        ("2024-05-01", "eu", "placed", "EUR", 3, Decimal("20.00"), 2),
        ("2024-05-01", "us", "placed", "USD", 1, Decimal("1.25"), 1),
        ("2024-05-02", "eu", "placed", "EUR", 1, Decimal("2.00"), 1),
    ]
    # The file columns are the catalog's consumer columns, typed as declared (region moves to the path in prod).
    first = tmp_path / "consumer" / files(tmp_path / "consumer")[0]
    schema = pq.read_schema(first)
    assert [(f.name, str(f.type)) for f in schema] == [
        (c["name"], {"string": "string", "bigint": "int64", "decimal(38,2)": "decimal128(38, 2)"}[c["type"]])
        for c in contract["consumerColumns"]
    ]
    expected_files = (
        ["dt=2024-05-01/region=eu/", "dt=2024-05-01/region=us/", "dt=2024-05-02/region=eu/"]
        if env == "prod"
        else ["dt=2024-05-01/", "dt=2024-05-02/"]
    )
    assert files(tmp_path / "consumer") == [f"{p}part-00000.snappy.parquet" for p in expected_files]
    assert summary["input"]["rows"] == 6  # processed rows (the superseded version is not among them)
    assert sum(r["order_count"] for r in rows) == summary["input"]["rows"]
    assert summary["consumer"]["rows"] == 4 and summary["consumer"]["table"] == "orders_daily"


def test_a_curated_view_copies_processed_rows(spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
    contract = contracts["prod"]["clickstream"]
    events = [
        {
            "event_id": f"e-{i}",
            "session_id": "s-1",
            "page": "/",
            "action": "view",
            "region": r,
            "event_time": f"2024-05-01T10:0{i}:00Z",
        }
        for i, r in enumerate(["eu", "us", "eu"])
    ]
    write_lines(tmp_path / "raw" / "events.jsonl", [line(e) for e in events])
    raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "out")
    processed = tmp_path / "out" / "processed"
    summary = to_consumer(spark, contract, processed, tmp_path / "consumer")
    assert read_partitioned(tmp_path / "consumer") == read_partitioned(processed)
    assert files(tmp_path / "consumer") == files(processed)
    assert summary["consumer"]["kind"] == "curated" and summary["consumer"]["rows"] == 3


def test_a_rerun_gives_identical_files(spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
    contract = contracts["prod"]["orders"]
    processed = seed(spark, contract, tmp_path)
    to_consumer(spark, contract, processed, tmp_path / "consumer")
    before = contents(tmp_path / "consumer")
    to_consumer(spark, contract, processed, tmp_path / "consumer")
    assert contents(tmp_path / "consumer") == before and len(before) == 3


def test_dates_limit_the_rebuild(spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
    contract = contracts["dev"]["orders"]
    processed = seed(spark, contract, tmp_path)
    to_consumer(spark, contract, processed, tmp_path / "consumer")
    before = hashes(tmp_path / "consumer")
    # Late data for both days arrives in processed...
    write_lines(
        tmp_path / "raw2" / "late.jsonl",
        [line(order(7, amount="1.00")), line(order(8, amount="3.00", order_ts="2024-05-02T10:00:00Z"))],
    )
    raw_to_processed(spark, contract, tmp_path / "raw2", tmp_path / "out", run_id="run-2")
    # ...but only 2024-05-02 is rebuilt: 2024-05-01 keeps its files.
    summary = to_consumer(spark, contract, processed, tmp_path / "consumer", dates="2024-05-02")
    after = hashes(tmp_path / "consumer")
    assert after["dt=2024-05-01/part-00000.snappy.parquet"] == before["dt=2024-05-01/part-00000.snappy.parquet"]
    assert after["dt=2024-05-02/part-00000.snappy.parquet"] != before["dt=2024-05-02/part-00000.snappy.parquet"]
    day2 = [r for r in read_partitioned(tmp_path / "consumer") if r["dt"] == "2024-05-02"]
    assert [(r["order_count"], r["revenue"]) for r in day2] == [(2, Decimal("5.00"))]
    assert summary["input"] == {"path": str(processed), "dates": ["2024-05-02"], "rows": 2}


def test_an_empty_processed_zone_writes_nothing(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    summary = to_consumer(spark, contracts["dev"]["orders"], tmp_path / "nothing-here", tmp_path / "consumer")
    assert summary["input"]["rows"] == 0 and summary["consumer"]["partitions"] == []
    assert not (tmp_path / "consumer").exists()
