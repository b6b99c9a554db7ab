"""The RDS and DynamoDB extracts: DynamoDB JSON unmarshalling of a sample export, record shaping,
the raw layout they land, the connector options they give Glue, and a round trip into processed."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import time
from pathlib import Path
from decimal import Decimal
from typing import Any, Iterator

import pytest
from botocore.client import BaseClient
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplat_glue import dynamodb_extract, rds_extract
from dataplat_glue.contract import JobContract
from dataplat_glue.ddb_json import DynamoJsonError, export_line_to_json, number, parse_export_line, unmarshal_value
from dataplat_glue.storage import CommittedPartition, Storage
import emulator_support
from glue_stub import GlueRecorder
from support import GLUE, files, raw_to_processed, read_partitioned, run_job, write_lines

EXPORT = GLUE / "tests" / "data" / "dynamodb-export"
SAMPLE = EXPORT / "AWSDynamoDB" / "01716000000000-a1b2c3d4" / "data" / "sample.json"
UTC = dt.timezone.utc


class TestDynamoJson:
    def test_a_sample_export_unmarshals_to_plain_json(self) -> None:
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

    @pytest.mark.parametrize(
        "text, value",
        [
            ("10", 10),
            ("-3", -3),
            ("1.50", 1.5),
            ("1E+3", 1000.0),
            ("0.1", 0.1),
            ("123456789012345678901234567890", 123456789012345678901234567890),
            ("3.14159265358979323846", "3.14159265358979323846"),
        ],
    )
    def test_numbers(self, text: str, value: int | float | str) -> None:
        assert number(text) == value and type(number(text)) is type(value)

    @pytest.mark.parametrize(
        "value, message",
        [
            ({"N": "abc"}, "balance: N 'abc' is not a number"),
            ({"N": "Infinity"}, "balance: N 'Infinity' is not a finite number"),
            ({"X": "1"}, "balance: unknown DynamoDB type 'X'"),
            ({"S": "a", "N": "1"}, "balance: expected one type descriptor"),
        ],
    )
    def test_bad_values_name_the_attribute(self, value: dict[str, str], message: str) -> None:
        with pytest.raises(DynamoJsonError, match=message.replace("(", r"\(")):
            unmarshal_value(value, "balance")

    def test_incremental_lines_carry_new_versions_and_deletions(self) -> None:
        meta = {"Metadata": {"WriteTimestampMicros": {"N": "1714564800000000"}}, "Keys": {"customer_id": {"S": "c-1"}}}
        old = {"customer_id": {"S": "c-1"}, "tier": {"S": "silver"}}
        new = {"customer_id": {"S": "c-1"}, "tier": {"S": "gold"}}
        assert parse_export_line(json.dumps({**meta, "NewImage": new})) == (
            "upsert",
            '{"customer_id":"c-1","tier":"gold"}',
            None,
            1714564800000000,
        )
        assert parse_export_line(json.dumps({**meta, "OldImage": old, "NewImage": new})) == (
            "upsert",
            '{"customer_id":"c-1","tier":"gold"}',
            '{"customer_id":"c-1","tier":"silver"}',
            1714564800000000,
        )
        assert parse_export_line(json.dumps({**meta, "OldImage": old})) == (
            "delete",
            '{"customer_id":"c-1"}',
            '{"customer_id":"c-1","tier":"silver"}',
            1714564800000000,
        )
        # a full export's line is an upsert of its Item
        assert parse_export_line(json.dumps({"Item": new})) == (
            "upsert",
            '{"customer_id":"c-1","tier":"gold"}',
            None,
            None,
        )
        with pytest.raises(DynamoJsonError, match="needs Keys or a NewImage"):
            parse_export_line(json.dumps({"Metadata": meta["Metadata"], "Keys": "c-1"}))


class TestExportPlan:
    NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=UTC)

    def test_the_first_run_exports_the_whole_table_now(self) -> None:
        assert dynamodb_extract.plan_exports(None, self.NOW, 7) == [{"type": "FULL_EXPORT", "exportTime": self.NOW}]

    def test_later_runs_export_from_the_last_end_to_now(self) -> None:
        history = {"exportedTo": "2024-05-10T11:00:00Z"}
        assert dynamodb_extract.plan_exports(history, self.NOW, 7) == [
            {"type": "INCREMENTAL_EXPORT", "from": dt.datetime(2024, 5, 10, 11, 0, tzinfo=UTC), "to": self.NOW}
        ]

    def test_less_than_fifteen_minutes_after_the_last_export_there_is_nothing_to_export(self) -> None:
        assert dynamodb_extract.plan_exports({"exportedTo": "2024-05-10T11:45:01Z"}, self.NOW, 7) == []
        assert len(dynamodb_extract.plan_exports({"exportedTo": "2024-05-10T11:45:00Z"}, self.NOW, 7)) == 1

    def test_a_long_gap_is_caught_up_in_windows_of_at_most_a_day(self) -> None:
        windows = dynamodb_extract.plan_exports({"exportedTo": "2024-05-07T00:00:00Z"}, self.NOW, 7)
        assert [(w["from"].isoformat(), w["to"].isoformat()) for w in windows] == [
            ("2024-05-07T00:00:00+00:00", "2024-05-08T00:00:00+00:00"),
            ("2024-05-08T00:00:00+00:00", "2024-05-09T00:00:00+00:00"),
            ("2024-05-09T00:00:00+00:00", "2024-05-10T00:00:00+00:00"),
            ("2024-05-10T00:00:00+00:00", "2024-05-10T12:00:00+00:00"),
        ]
        assert (
            len(dynamodb_extract.plan_exports({"exportedTo": "2024-05-07T00:00:00Z"}, self.NOW, 2)) == 2
        )  # the next run goes on


def gzipped_export(tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(EXPORT, target)
    data = next(target.rglob("sample.json"))
    data.with_name("part-0001.json.gz").write_bytes(gzip.compress(data.read_bytes(), mtime=0))
    data.unlink()
    return target


def test_dynamodb_extract_lands_raw_then_processes(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    contract = contracts["prod"]["customers"]
    summary = run_job(
        dynamodb_extract,
        spark,
        contract,
        input_path=gzipped_export(tmp_path),
        output_path=tmp_path / "raw",
        run_id="run-7",
    )
    # Raw layout: the spec's keys by Firehose's rule (first 10 characters of the partition time,
    # created_at, which no profile change moves; region as is).
    assert files(tmp_path / "raw") == [
        "dt=2024-01-15/region=eu/part-run-7-00000.json.gz",
        "dt=2024-02-01/region=us/part-run-7-00000.json.gz",
        "dt=2024-03-01/region=apac/part-run-7-00000.json.gz",
        "dt=2024-03-01/region=eu/part-run-7-00000.json.gz",
    ]
    eu = (
        gzip.decompress((tmp_path / "raw" / "dt=2024-03-01/region=eu/part-run-7-00000.json.gz").read_bytes())
        .decode()
        .splitlines()
    )
    assert [json.loads(x)["customer_id"] for x in eu] == ["c-4"]
    assert summary["raw"]["records"] == 4
    assert summary["raw"]["partitions"][0] == {
        "path": "dt=2024-01-15/region=eu/",
        "rows": 1,
        "files": ["part-run-7-00000.json.gz"],
    }

    processed = raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "out")
    rows = {r["customer_id"]: r for r in read_partitioned(tmp_path / "out" / "processed")}
    assert sorted(rows) == ["c-1", "c-2", "c-3"]
    assert rows["c-1"]["updated_at"] == dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC) and rows["c-1"]["tier"] == "gold"
    assert rows["c-3"]["full_name"] is None
    assert processed["quarantined"]["byReason"] == {"missing_required": 1}  # c-4 has no email
    assert processed["unexpectedColumns"]["columns"] == {
        "address": 1,
        "avatar": 1,
        "balance": 1,
        "devices": 1,
        "lifetime": 1,
        "scores": 1,
        "tags": 1,
        "visits": 1,
        "vip": 1,
    }


def test_raw_files_of_one_run_are_replaced_by_its_rerun_and_kept_by_others(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    contract = contracts["dev"]["customers"]
    export = gzipped_export(tmp_path)
    for run_id in ("run-1", "run-2", "run-2"):
        run_job(dynamodb_extract, spark, contract, input_path=export, output_path=tmp_path / "raw", run_id=run_id)
    assert files(tmp_path / "raw") == [
        "dt=2024-01-15/part-run-1-00000.json.gz",
        "dt=2024-01-15/part-run-2-00000.json.gz",
        "dt=2024-02-01/part-run-1-00000.json.gz",
        "dt=2024-02-01/part-run-2-00000.json.gz",
        "dt=2024-03-01/part-run-1-00000.json.gz",
        "dt=2024-03-01/part-run-2-00000.json.gz",
    ]


def test_an_extract_stages_beside_the_dataset_folder_and_leaves_nothing_in_it(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
) -> None:
    from dataplat_glue.extract import default_staging

    assert default_staging("s3://dataplat-dev-raw/customers/") == "s3://dataplat-dev-raw/_staging/customers/"
    assert default_staging("s3://dataplat-dev-raw/customers") == "s3://dataplat-dev-raw/_staging/customers/"
    with pytest.raises(ValueError, match="dataset folder inside a bucket"):
        default_staging("s3://dataplat-dev-raw/")
    # A run that dies between staging and commit leaves its files there, not under <dataset>/, where
    # they would match the dataset's raw-created trigger and its crawler.
    seen: list[str] = []
    import dataplat_glue.extract as extract

    real = extract.commit_partitions

    def spy(storage: Storage, staging: str, target: str, *args: Any, **kwargs: Any) -> list[CommittedPartition]:
        seen.append(staging)
        return real(storage, staging, target, *args, **kwargs)

    extract.commit_partitions = spy
    try:
        run_job(
            dynamodb_extract,
            spark,
            contracts["dev"]["customers"],
            input_path=gzipped_export(tmp_path),
            output_path=tmp_path / "lake" / "customers",
            run_id="run-1",
        )
    finally:
        extract.commit_partitions = real
    assert seen == [f"{tmp_path / 'lake' / '_staging' / 'customers'}/run-1/raw"]
    assert not any("_staging" in f for f in files(tmp_path / "lake" / "customers"))


class TestRds:
    ROWS = [
        (
            "o-1",
            "c-1",
            "eu",
            "paid",
            Decimal("12.50"),
            "EUR",
            dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
            dt.datetime(2024, 5, 1, 11, 0, 0, 250000, tzinfo=UTC),
        ),
        (
            "o-2",
            "c-2",
            "us",
            "placed",
            Decimal("3.00"),
            "USD",
            dt.datetime(2024, 5, 2, 23, 59, tzinfo=UTC),
            dt.datetime(2024, 5, 2, 23, 59, tzinfo=UTC),
        ),
        (
            "o-3",
            None,
            "eu",
            "placed",
            Decimal("1.00"),
            "EUR",
            dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
            dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        ),
    ]

    def table(self, spark: SparkSession, contract: dict) -> DataFrame:
        from dataplat_glue.spark import struct_of

        schema = struct_of(JobContract.from_dict(contract).columns)
        return spark.createDataFrame(self.ROWS, schema).withColumn("internal_note", F.lit("x"))

    def test_jdbc_options_read_incrementally_by_the_version_column(self, contracts: dict[str, dict]) -> None:
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

    def test_rows_are_shaped_as_raw_json(self, spark: SparkSession, contracts: dict[str, dict]) -> None:
        contract = JobContract.from_dict(contracts["prod"]["orders"])
        shaped = [
            json.loads(r["value"])
            for r in rds_extract.shape(self.table(spark, contracts["prod"]["orders"]), contract).collect()
        ]
        assert shaped[0] == {
            "order_id": "o-1",
            "customer_id": "c-1",
            "region": "eu",
            "status": "paid",
            "amount": 12.5,
            "currency": "EUR",
            "order_ts": "2024-05-01T10:00:00.000000Z",
            "updated_at": "2024-05-01T11:00:00.250000Z",
            "internal_note": "x",
        }
        assert shaped[2]["customer_id"] is None  # nulls are kept, so raw → processed can reject them

    def test_glue_path_uses_the_connection_and_commits_the_bookmark(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        glue = GlueRecorder(spark, self.table(spark, contracts["prod"]["orders"]))
        glue.install(monkeypatch)
        contract = contracts["prod"]["orders"]
        summary = rds_extract.main(
            [
                "rds_extract.py",
                "--JOB_NAME",
                "dataplat-prod-orders-rds",
                "--JOB_RUN_ID",
                "jr_abc",
                "--dataset_contract",
                json.dumps(contract),
                "--output_path",
                str(tmp_path / "raw"),
                "--connection_name",
                "dataplat-prod-orders-db",
                "--source_table",
                "public.orders",
            ]
        )
        assert glue.names() == ["getResolvedOptions", "Job.init", "from_options", "Job.commit"]
        assert glue.options()["transformation_ctx"] == "orders_rds_source"
        assert glue.options()["connection_options"]["jobBookmarkKeys"] == ["updated_at"]
        assert glue.options()["connection_type"] == "postgresql"
        assert summary["runId"] == "jr_abc"
        assert files(tmp_path / "raw") == [
            "dt=2024-05-01/region=eu/part-jr_abc-00000.json.gz",
            "dt=2024-05-02/region=us/part-jr_abc-00000.json.gz",
        ]
        # and what landed processes: o-3 lacks its customer
        out = raw_to_processed(spark, contract, tmp_path / "raw", tmp_path / "out")
        assert sorted(r["order_id"] for r in read_partitioned(tmp_path / "out" / "processed")) == ["o-1", "o-2"]
        assert out["quarantined"]["byReason"] == {"missing_required": 1}

    def test_glue_path_without_a_connection_fails_clearly(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        GlueRecorder(spark, None).install(monkeypatch)
        with pytest.raises(ValueError, match="rds_extract: --connection_name is required in Glue"):
            rds_extract.main(
                [
                    "rds_extract.py",
                    "--JOB_NAME",
                    "x",
                    "--dataset_contract",
                    json.dumps(contracts["dev"]["orders"]),
                    "--output_path",
                    str(tmp_path),
                ]
            )

    def test_local_run_reads_a_table_dump(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        dump = [
            {
                "order_id": "o-9",
                "customer_id": "c-9",
                "region": "apac",
                "status": "paid",
                "amount": "9.99",
                "currency": "SGD",
                "order_ts": "2024-05-03T01:00:00Z",
                "updated_at": "2024-05-03T02:00:00Z",
            }
        ]
        write_lines(tmp_path / "dump.jsonl", [json.dumps(r) for r in dump])
        summary = run_job(
            rds_extract,
            spark,
            contracts["prod"]["orders"],
            input_path=tmp_path / "dump.jsonl",
            output_path=tmp_path / "raw",
            run_id="local-1",
        )
        assert summary["raw"]["partitions"] == [
            {"path": "dt=2024-05-03/region=apac/", "rows": 1, "files": ["part-local-1-00000.json.gz"]}
        ]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator_support.Emulator]:
    # The emulator enforces AWS's export rules; only the 15-minute floor of a window is lowered, so
    # a test need not wait a quarter of an hour between two exports.
    yield from emulator_support.running(tmp_path_factory, {"DATAPLAT_EMULATOR_MIN_INCREMENTAL_EXPORT_SECONDS": "1"})


class TestDynamoExportsAgainstTheEmulator:
    """The job's own export path: ExportTableToPointInTime, DescribeExport, the manifests and data files in S3, the history object."""

    def customer(self, n: int, tier: str, updated_at: str) -> dict:
        return {
            "customer_id": {"S": f"c-{n}"},
            "email": {"S": f"c{n}@example.com"},
            "full_name": {"S": f"Customer {n}"},
            "region": {"S": "eu"},
            "tier": {"S": tier},
            "created_at": {"S": "2024-01-01T00:00:00Z"},
            "updated_at": {"S": updated_at},
        }

    def setup(self, emulator: emulator_support.Emulator, name: str) -> tuple[BaseClient, BaseClient, str]:
        ddb, s3 = emulator.client("dynamodb"), emulator.client("s3")
        table = ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        for bucket in (f"{name}-scratch", f"{name}-state"):
            s3.create_bucket(Bucket=bucket)
        return ddb, s3, table["TableDescription"]["TableArn"]

    def run(
        self, spark: SparkSession, contract: dict, arn: str, name: str, tmp_path: Path, run_id: str, **extra: Any
    ) -> dict:
        return run_job(
            dynamodb_extract,
            spark,
            contract,
            table_arn=arn,
            export_bucket=f"{name}-scratch",
            export_prefix="dynamodb-exports/x/",
            state_path=f"s3://{name}-state/x/dynamodb-extract/exports.json",
            output_path=tmp_path / "raw",
            run_id=run_id,
            min_window_seconds=1,
            **extra,
        )

    def raw_records(self, root: Path, run_id: str) -> list[dict]:
        return sorted(
            (
                json.loads(line)
                for f in files(root)
                if f"part-{run_id}-" in f
                for line in gzip.decompress((root / f).read_bytes()).decode().splitlines()
            ),
            key=lambda r: r["customer_id"],
        )

    def test_a_full_export_then_an_incremental_one_lands_only_what_changed(
        self,
        spark: SparkSession,
        contracts: dict[str, dict],
        tmp_path: Path,
        emulator: emulator_support.Emulator,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)
        ddb, s3, arn = self.setup(emulator, "profiles-a")
        contract = contracts["prod"]["customers"]
        for n in (1, 2, 3):
            ddb.put_item(TableName="profiles-a", Item=self.customer(n, "silver", "2024-05-01T10:00:00Z"))

        first = self.run(spark, contract, arn, "profiles-a", tmp_path, "r1", deletions_path=tmp_path / "deletions")
        assert [e["type"] for e in first["exports"]] == ["FULL_EXPORT"]
        assert first["raw"]["records"] == 3 and first["deleted"] == 0
        assert [r["customer_id"] for r in self.raw_records(tmp_path / "raw", "r1")] == ["c-1", "c-2", "c-3"]
        history = json.loads(
            s3.get_object(Bucket="profiles-a-state", Key="x/dynamodb-extract/exports.json")["Body"].read()
        )
        assert history["exportedTo"] == first["exports"][0]["exportTime"] == first["exportedTo"]

        # Between the runs: c-1 changes, c-4 is new, c-2 is deleted; c-3 stays as it was.
        ddb.update_item(
            TableName="profiles-a",
            Key={"customer_id": {"S": "c-1"}},
            UpdateExpression="SET tier = :t, updated_at = :u",
            ExpressionAttributeValues={":t": {"S": "gold"}, ":u": {"S": "2024-05-02T09:00:00Z"}},
        )
        ddb.put_item(TableName="profiles-a", Item=self.customer(4, "bronze", "2024-05-02T10:00:00Z"))
        ddb.delete_item(TableName="profiles-a", Key={"customer_id": {"S": "c-2"}})
        time.sleep(1.2)

        second = self.run(spark, contract, arn, "profiles-a", tmp_path, "r2", deletions_path=tmp_path / "deletions")
        [export] = second["exports"]
        assert export["type"] == "INCREMENTAL_EXPORT" and export["from"] == history["exportedTo"]
        assert (
            ddb.describe_export(ExportArn=export["arn"])["ExportDescription"]["IncrementalExportSpecification"][
                "ExportViewType"
            ]
            == "NEW_AND_OLD_IMAGES"
        )
        # Only the new and the changed item land; the unchanged one is not read again.
        assert [(r["customer_id"], r["tier"]) for r in self.raw_records(tmp_path / "raw", "r2")] == [
            ("c-1", "gold"),
            ("c-4", "bronze"),
        ]
        assert second["raw"]["records"] == 2
        # The deleted item is carried with its keys and last image, and counted.
        assert second["deleted"] == 1
        [deletion] = [
            json.loads(x) for x in gzip.decompress(Path(export["deletions"]).read_bytes()).decode().splitlines()
        ]
        assert deletion["reason"] == "deleted_in_source" and deletion["keys"] == {"customer_id": "c-2"}
        assert (
            deletion["last_image"]["email"] == "c2@example.com"
            and deletion["export_arn"] == export["arn"]
            and deletion["deleted_at"]
        )
        assert (
            json.loads(s3.get_object(Bucket="profiles-a-state", Key="x/dynamodb-extract/exports.json")["Body"].read())[
                "exportedTo"
            ]
            == export["to"]
        )

    def test_a_run_that_fails_exports_the_same_window_again(
        self,
        spark: SparkSession,
        contracts: dict[str, dict],
        tmp_path: Path,
        emulator: emulator_support.Emulator,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)
        ddb, s3, arn = self.setup(emulator, "profiles-b")
        contract = contracts["prod"]["customers"]
        ddb.put_item(TableName="profiles-b", Item=self.customer(1, "silver", "2024-05-01T10:00:00Z"))
        first = self.run(spark, contract, arn, "profiles-b", tmp_path, "r1")
        ddb.delete_item(TableName="profiles-b", Key={"customer_id": {"S": "c-1"}})
        time.sleep(1.2)
        # Without a place for deletions the run refuses to drop one silently, and fails before its history moves.
        with pytest.raises(ValueError, match="deleted in the source and --deletions_path is not set"):
            self.run(spark, contract, arn, "profiles-b", tmp_path, "r2")
        history = json.loads(
            s3.get_object(Bucket="profiles-b-state", Key="x/dynamodb-extract/exports.json")["Body"].read()
        )
        assert history["exportedTo"] == first["exportedTo"]
        retried = self.run(spark, contract, arn, "profiles-b", tmp_path, "r3", deletions_path=tmp_path / "deletions")
        assert retried["exports"][0]["from"] == first["exportedTo"] and retried["deleted"] == 1

    def test_without_history_or_input_the_job_says_what_it_needs(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        with pytest.raises(ValueError, match="--state_path is required"):
            run_job(
                dynamodb_extract,
                spark,
                contracts["prod"]["customers"],
                table_arn="arn:aws:dynamodb:eu-west-1:1:table/t",
                export_bucket="b",
                export_prefix="p/",
                output_path=tmp_path / "raw",
            )
