"""The RDS and DynamoDB extracts: DynamoDB JSON unmarshalling of a sample export, record shaping,
the raw layout they land, the connector options they give Glue, and a round trip into processed."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from dataplat_glue import dynamodb_extract, rds_extract
from dataplat_glue.contract import JobContract
from dataplat_glue.ddb_json import DynamoJsonError, export_line_to_json, number, unmarshal_value
from glue_stub import GlueRecorder
from support import GLUE, files, raw_to_processed, read_partitioned, run_job, write_lines

EXPORT = GLUE / "tests" / "data" / "dynamodb-export"
SAMPLE = EXPORT / "AWSDynamoDB" / "01716000000000-a1b2c3d4" / "data" / "sample.json"
UTC = dt.timezone.utc


class TestDynamoJson:
    def test_a_sample_export_unmarshals_to_plain_json(self):
        lines = [json.loads(export_line_to_json(x)) for x in SAMPLE.read_text().splitlines()]
        assert lines[0] == {
            "address": {"city": "London", "zip": None},
            "avatar": "aGVsbG8=",
            "balance": 12.5,
            "created_at": "2024-01-15T09:00:00Z",
            "customer_id": "c-1",
            "devices": ["ios", 3],
            "email": "ada@example.com",
            "full_name": "Ada Lovelace",
            "region": "eu",
            "scores": [2.5, 10],
            "tags": ["beta", "early"],
            "tier": "gold",
            "updated_at": "2024-05-01T12:00:00Z",
            "visits": 42,
            "vip": True,
        }
        # a number a double cannot hold exactly stays exact, as text
        assert lines[1]["lifetime"] == "12345678901234567890.123"
        assert lines[2]["full_name"] is None

    @pytest.mark.parametrize("text, value", [("10", 10), ("-3", -3), ("1.50", 1.5), ("1E+3", 1000.0), ("0.1", 0.1),
                                             ("123456789012345678901234567890", 123456789012345678901234567890),
                                             ("3.14159265358979323846", "3.14159265358979323846")])
    def test_numbers(self, text, value):
        assert number(text) == value and type(number(text)) is type(value)

    @pytest.mark.parametrize("value, message", [
        ({"N": "abc"}, "balance: N 'abc' is not a number"),
        ({"N": "Infinity"}, "balance: N 'Infinity' is not a finite number"),
        ({"X": "1"}, "balance: unknown DynamoDB type 'X'"),
        ({"S": "a", "N": "1"}, "balance: expected one type descriptor"),
    ])
    def test_bad_values_name_the_attribute(self, value, message):
        with pytest.raises(DynamoJsonError, match=message.replace("(", r"\(")):
            unmarshal_value(value, "balance")

    def test_export_options_for_the_glue_connector(self):
        assert dynamodb_extract.export_options("arn:aws:dynamodb:eu-west-1:111111111111:table/customers", "scratch", "ddb/customers/") == {
            "dynamodb.export": "ddb",
            "dynamodb.tableArn": "arn:aws:dynamodb:eu-west-1:111111111111:table/customers",
            "dynamodb.unnestDDBJson": True,
            "dynamodb.s3.bucket": "scratch",
            "dynamodb.s3.prefix": "ddb/customers/",
        }


def gzipped_export(tmp_path):
    target = tmp_path / "export"
    shutil.copytree(EXPORT, target)
    data = next(target.rglob("sample.json"))
    data.with_name("part-0001.json.gz").write_bytes(gzip.compress(data.read_bytes(), mtime=0))
    data.unlink()
    return target


def test_dynamodb_extract_lands_raw_then_processes(spark, contracts, tmp_path):
    contract = contracts["prod"]["customers"]
    summary = run_job(dynamodb_extract, spark, contract, input_path=gzipped_export(tmp_path), output_path=tmp_path / "raw", run_id="run-7")
    # Raw layout: the spec's keys by Firehose's rule (first 10 characters of the partition time,
    # created_at, which no profile change moves; region as is).
    assert files(tmp_path / "raw") == [
        "dt=2024-01-15/region=eu/part-run-7-00000.json.gz",
        "dt=2024-02-01/region=us/part-run-7-00000.json.gz",
        "dt=2024-03-01/region=apac/part-run-7-00000.json.gz",
        "dt=2024-03-01/region=eu/part-run-7-00000.json.gz",
    ]
    eu = gzip.decompress((tmp_path / "raw" / "dt=2024-03-01/region=eu/part-run-7-00000.json.gz").read_bytes()).decode().splitlines()
    assert [json.loads(x)["customer_id"] for x in eu] == ["c-4"]
    assert summary["raw"]["records"] == 4
    assert summary["raw"]["partitions"][0] == {"path": "dt=2024-01-15/region=eu/", "rows": 1, "files": ["part-run-7-00000.json.gz"]}

    processed = raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "out")
    rows = {r["customer_id"]: r for r in read_partitioned(tmp_path / "out" / "processed")}
    assert sorted(rows) == ["c-1", "c-2", "c-3"]
    assert rows["c-1"]["updated_at"] == dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC) and rows["c-1"]["tier"] == "gold"
    assert rows["c-3"]["full_name"] is None
    assert processed["quarantined"]["byReason"] == {"missing_required": 1}  # c-4 has no email
    assert processed["unexpectedColumns"]["columns"] == {"address": 1, "avatar": 1, "balance": 1, "devices": 1, "lifetime": 1, "scores": 1,
                                                         "tags": 1, "visits": 1, "vip": 1}


def test_raw_files_of_one_run_are_replaced_by_its_rerun_and_kept_by_others(spark, contracts, tmp_path):
    contract = contracts["dev"]["customers"]
    export = gzipped_export(tmp_path)
    for run_id in ("run-1", "run-2", "run-2"):
        run_job(dynamodb_extract, spark, contract, input_path=export, output_path=tmp_path / "raw", run_id=run_id)
    assert files(tmp_path / "raw") == [
        "dt=2024-01-15/part-run-1-00000.json.gz", "dt=2024-01-15/part-run-2-00000.json.gz",
        "dt=2024-02-01/part-run-1-00000.json.gz", "dt=2024-02-01/part-run-2-00000.json.gz",
        "dt=2024-03-01/part-run-1-00000.json.gz", "dt=2024-03-01/part-run-2-00000.json.gz",
    ]


class TestRds:
    ROWS = [
        ("o-1", "c-1", "eu", "paid", Decimal("12.50"), "EUR", dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC), dt.datetime(2024, 5, 1, 11, 0, 0, 250000, tzinfo=UTC)),
        ("o-2", "c-2", "us", "placed", Decimal("3.00"), "USD", dt.datetime(2024, 5, 2, 23, 59, tzinfo=UTC), dt.datetime(2024, 5, 2, 23, 59, tzinfo=UTC)),
        ("o-3", None, "eu", "placed", Decimal("1.00"), "EUR", dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC), dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
    ]

    def table(self, spark, contract):
        from dataplat_glue.spark import struct_of

        schema = struct_of(JobContract.from_dict(contract).columns)
        return spark.createDataFrame(self.ROWS, schema).withColumn("internal_note", F.lit("x"))

    def test_jdbc_options_read_incrementally_by_the_version_column(self, contracts):
        contract = JobContract.from_dict(contracts["prod"]["orders"])
        assert rds_extract.jdbc_options(contract, "dataplat-prod-orders-db", "public.orders", hash_partitions="8") == {
            "useConnectionProperties": "true",
            "connectionName": "dataplat-prod-orders-db",
            "dbtable": "public.orders",
            "jobBookmarkKeys": ["updated_at"],
            "jobBookmarkKeysSortOrder": "asc",
            "hashfield": "order_id",
            "hashpartitions": "8",
        }

    def test_rows_are_shaped_as_raw_json(self, spark, contracts):
        contract = JobContract.from_dict(contracts["prod"]["orders"])
        shaped = [json.loads(r["value"]) for r in rds_extract.shape(self.table(spark, contracts["prod"]["orders"]), contract).collect()]
        assert shaped[0] == {"order_id": "o-1", "customer_id": "c-1", "region": "eu", "status": "paid", "amount": 12.5, "currency": "EUR",
                             "order_ts": "2024-05-01T10:00:00.000000Z", "updated_at": "2024-05-01T11:00:00.250000Z", "internal_note": "x"}
        assert shaped[2]["customer_id"] is None  # nulls are kept, so raw → processed can reject them

    def test_glue_path_uses_the_connection_and_commits_the_bookmark(self, spark, contracts, tmp_path, monkeypatch):
        glue = GlueRecorder(spark, self.table(spark, contracts["prod"]["orders"]))
        glue.install(monkeypatch)
        contract = contracts["prod"]["orders"]
        summary = rds_extract.main(["rds_extract.py", "--JOB_NAME", "dataplat-prod-orders-rds", "--JOB_RUN_ID", "jr_abc",
                                    "--dataset_contract", json.dumps(contract), "--output_path", str(tmp_path / "raw"),
                                    "--connection_name", "dataplat-prod-orders-db", "--source_table", "public.orders"])
        assert glue.names() == ["getResolvedOptions", "Job.init", "from_options", "Job.commit"]
        assert glue.options()["transformation_ctx"] == "orders_rds_source"
        assert glue.options()["connection_options"]["jobBookmarkKeys"] == ["updated_at"]
        assert glue.options()["connection_type"] == "postgresql"
        assert summary["runId"] == "jr_abc"
        assert files(tmp_path / "raw") == ["dt=2024-05-01/region=eu/part-jr_abc-00000.json.gz", "dt=2024-05-02/region=us/part-jr_abc-00000.json.gz"]
        # and what landed processes: o-3 lacks its customer
        out = raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "out")
        assert sorted(r["order_id"] for r in read_partitioned(tmp_path / "out" / "processed")) == ["o-1", "o-2"]
        assert out["quarantined"]["byReason"] == {"missing_required": 1}

    def test_glue_path_without_a_connection_fails_clearly(self, spark, contracts, tmp_path, monkeypatch):
        GlueRecorder(spark, None).install(monkeypatch)
        with pytest.raises(ValueError, match="rds_extract: --connection_name is required in Glue"):
            rds_extract.main(["rds_extract.py", "--JOB_NAME", "x", "--dataset_contract", json.dumps(contracts["dev"]["orders"]),
                              "--output_path", str(tmp_path)])

    def test_local_run_reads_a_table_dump(self, spark, contracts, tmp_path):
        dump = [{"order_id": "o-9", "customer_id": "c-9", "region": "apac", "status": "paid", "amount": "9.99", "currency": "SGD",
                 "order_ts": "2024-05-03T01:00:00Z", "updated_at": "2024-05-03T02:00:00Z"}]
        write_lines(tmp_path / "dump.jsonl", [json.dumps(r) for r in dump])
        summary = run_job(rds_extract, spark, contracts["prod"]["orders"], input_path=tmp_path / "dump.jsonl", output_path=tmp_path / "raw",
                          run_id="local-1")
        assert summary["raw"]["partitions"] == [{"path": "dt=2024-05-03/region=apac/", "rows": 1, "files": ["part-local-1-00000.json.gz"]}]


def test_dynamodb_glue_path_passes_the_export_options(spark, contracts, tmp_path, monkeypatch):
    items = spark.createDataFrame([("c-1", "a@example.com", "eu", "2024-01-01T00:00:00Z", "2024-05-01T00:00:00Z", 7)],
                                  "customer_id string, email string, region string, created_at string, updated_at string, visits bigint")
    glue = GlueRecorder(spark, items)
    glue.install(monkeypatch)
    dynamodb_extract.main(["dynamodb_extract.py", "--JOB_NAME", "x", "--dataset_contract", json.dumps(contracts["prod"]["customers"]),
                           "--output_path", str(tmp_path / "raw"), "--table_arn", "arn:aws:dynamodb:eu-west-1:1:table/customers",
                           "--export_bucket", "scratch", "--export_prefix", "ddb/", "--run_id", "r"])
    assert glue.options()["connection_type"] == "dynamodb"
    assert glue.options()["connection_options"]["dynamodb.export"] == "ddb"
    assert glue.options()["connection_options"]["dynamodb.unnestDDBJson"] is True
    [raw] = files(tmp_path / "raw")
    assert raw == "dt=2024-01-01/region=eu/part-r-00000.json.gz"
    assert json.loads(gzip.decompress((tmp_path / "raw" / raw).read_bytes())) == {
        "customer_id": "c-1", "email": "a@example.com", "region": "eu", "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-05-01T00:00:00Z", "visits": 7}
