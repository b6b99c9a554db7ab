"""The job contract model, the argument interface (Glue and local), and the commit step's file
handling — the pure parts, without Spark jobs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from dataplat_glue.args import Arg, parse_as_of, resolve
from dataplat_glue.contract import ConsumerView, ContractError, JobContract, json_name


class TestContract:
    def test_every_exported_contract_parses(self, contracts: dict[str, dict]) -> None:
        for env, by_name in contracts.items():
            for name, data in by_name.items():
                contract = JobContract.from_dict(data)
                assert contract.name == name
                assert contract.partition_names == (["dt", "region"] if env == "prod" else ["dt"])

    def test_prod_orders(self, contracts: dict[str, dict]) -> None:
        c = JobContract.from_dict(contracts["prod"]["orders"])
        assert [(k.name, k.type, k.column, k.values, k.range_start) for k in c.partition_keys] == [
            ("dt", "date", "order_ts", None, "2024-01-01"),
            ("region", "enum", "region", ("eu", "us", "apac"), None),
        ]
        assert [col.name for col in c.data_columns] == [
            "order_id",
            "customer_id",
            "status",
            "amount",
            "currency",
            "order_ts",
            "updated_at",
        ]
        assert c.column("amount").decimal == (12, 2)
        assert (c.version_column, c.consumer.kind, c.consumer_table) == ("updated_at", "aggregate", "orders_daily")
        assert c.partition_path({"dt": "2024-05-01", "region": "eu"}) == "dt=2024-05-01/region=eu/"

    def test_a_broken_contract_lists_every_problem(self, contracts: dict[str, dict]) -> None:
        data = copy.deepcopy(contracts["prod"]["orders"])
        data["primaryKey"] = ["nope"]
        data["versionColumn"] = "status"
        data["partitioning"]["keys"][0]["rangeStart"] = "yesterday"
        data["columns"][4]["type"] = "money"
        with pytest.raises(ContractError) as e:
            JobContract.from_dict(data)
        assert str(e.value) == (
            "dataset_contract orders: columns[4] amount: unsupported type 'money'; "
            "partitioning.keys[0] dt: rangeStart must be yyyy-MM-dd (got 'yesterday'); "
            "primaryKey: 'nope' is not a column; versionColumn: 'status' must be a timestamp (got string)"
        )


class TestTheTwoViewsAgree:
    """The TypeScript export and the Python dataclasses name the same fields: a field added or renamed
    on one side only fails here, before a job drops or misreads it."""

    def test_every_exported_contract_reads_back_to_the_same_json(self, every_contract: dict[str, dict]) -> None:
        for env, by_name in every_contract.items():
            for name, data in by_name.items():
                assert JobContract.from_dict(data).to_dict() == data, f"{env}/{name}"

    def test_a_field_only_one_side_knows_fails_the_comparison(self, every_contract: dict[str, dict]) -> None:
        data = copy.deepcopy(next(iter(every_contract["dev"].values())))
        data["retentionDays"] = 7
        assert JobContract.from_dict(data).to_dict() != data
        data = copy.deepcopy(next(iter(every_contract["dev"].values())))
        data["columns"][0]["nullable"] = True
        assert JobContract.from_dict(data).to_dict() != data

    def test_field_names_are_the_json_names_in_snake_case(self) -> None:
        assert [
            json_name(f)
            for f in ("name", "primary_key", "event_time_column", "consumer_columns", "range_start", "group_by")
        ] == ["name", "primaryKey", "eventTimeColumn", "consumerColumns", "rangeStart", "groupBy"]
        assert ConsumerView(kind="curated").to_dict() == {"kind": "curated"}


SPEC = [
    Arg("input_path", "in", "x"),
    Arg("rebuild", "r", "false", required=False, default="false"),
    Arg("run_id", "id", "r", required=False),
]


class TestArguments:
    def test_local_mode_parses_the_same_names(self) -> None:
        args = resolve(["job.py", "--local", "--input_path", "/tmp/raw"], SPEC)
        assert args.local and args["input_path"] == "/tmp/raw" and args.flag("rebuild") is False
        assert args.run_id().startswith("local-")

    def test_glue_mode_resolves_optional_arguments_only_when_given(
        self, monkeypatch: pytest.MonkeyPatch, spark: SparkSession
    ) -> None:
        from glue_stub import GlueRecorder

        glue = GlueRecorder(spark)
        glue.install(monkeypatch)
        args = resolve(
            [
                "job.py",
                "--JOB_NAME",
                "j",
                "--JOB_RUN_ID",
                "jr_1",
                "--input_path",
                "s3://b/raw/",
                "--TempDir",
                "s3://t/",
            ],
            SPEC,
        )
        assert glue.calls == [("getResolvedOptions", ["JOB_NAME", "input_path", "JOB_RUN_ID"])]
        assert (args.local, args["input_path"], args.get("rebuild"), args.run_id()) == (
            False,
            "s3://b/raw/",
            "false",
            "jr_1",
        )
        args = resolve(
            ["job.py", "--JOB_NAME", "j", "--input_path", "s3://b/raw/", "--rebuild", "true", "--run_id", "sfn-1"], SPEC
        )
        assert (args.flag("rebuild"), args.run_id()) == (True, "sfn-1")

    def test_a_folder_valued_summary_path_gives_each_run_its_own_file(self) -> None:
        spec = SPEC + [Arg("summary_path", "s", "x", required=False)]
        folder = resolve(
            ["job.py", "--local", "--input_path", "i", "--summary_path", "s3://q/ds/raw_to_processed/runs/"], spec
        )
        assert folder.run_file("summary_path", "exec-1") == "s3://q/ds/raw_to_processed/runs/exec-1.json"
        assert folder.run_file("summary_path", "exec-2") == "s3://q/ds/raw_to_processed/runs/exec-2.json"
        given = resolve(["job.py", "--local", "--input_path", "i", "--summary_path", "s3://q/ds/s.json"], spec)
        assert given.run_file("summary_path", "exec-1") == "s3://q/ds/s.json"
        assert resolve(["job.py", "--local", "--input_path", "i"], spec).run_file("summary_path", "exec-1") is None

    def test_as_of(self) -> None:
        assert parse_as_of("2024-06-01T00:00:00Z").isoformat() == "2024-06-01T00:00:00+00:00"
        assert parse_as_of("2024-06-01T02:00:00+02:00").utcoffset().total_seconds() == 7200
        with pytest.raises(ValueError, match="argument --as_of must be an ISO-8601 timestamp"):
            parse_as_of("tomorrow")


class TestCommit:
    def test_partitions_are_replaced_with_stable_names_and_others_left_alone(
        self, spark: SparkSession, tmp_path: Path
    ) -> None:
        from dataplat_glue.storage import Storage, commit_partitions

        staging, target = tmp_path / "staging", tmp_path / "target"
        for rel in [
            "dt=1/part-00001-uuid-b.c000.snappy.parquet",
            "dt=1/part-00000-uuid-a.c000.snappy.parquet",
            "dt=2/part-00003-x.c000.snappy.parquet",
            "dt=2/_SUCCESS",
            "dt=2/.part-00003-x.crc",
        ]:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(rel)
        for rel in [
            "dt=1/part-00000.snappy.parquet",
            "dt=1/part-00007.snappy.parquet",
            "dt=1/notes.txt",
            "dt=3/part-00000.snappy.parquet",
        ]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text("old")
        committed = commit_partitions(Storage(spark), str(staging), str(target), ".snappy.parquet")
        assert [(c.path, c.files) for c in committed] == [
            ("dt=1/", ("part-00000.snappy.parquet", "part-00001.snappy.parquet")),
            ("dt=2/", ("part-00000.snappy.parquet",)),
        ]
        got = {p.relative_to(target).as_posix(): p.read_text() for p in target.rglob("*") if p.is_file()}
        assert got == {
            "dt=1/part-00000.snappy.parquet": "dt=1/part-00000-uuid-a.c000.snappy.parquet",  # Spark's task order kept
            "dt=1/part-00001.snappy.parquet": "dt=1/part-00001-uuid-b.c000.snappy.parquet",
            "dt=1/notes.txt": "old",  # not ours: left alone
            "dt=2/part-00000.snappy.parquet": "dt=2/part-00003-x.c000.snappy.parquet",
            "dt=3/part-00000.snappy.parquet": "old",  # partition not in this run: untouched
        }
        assert not staging.exists()


@pytest.mark.parametrize("job", ["raw_to_processed", "processed_to_consumer", "rds_extract", "dynamodb_extract"])
def test_the_readme_documents_every_argument(job: str) -> None:
    import importlib
    import re

    from support import GLUE

    readme = (GLUE / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"### {job}\n", 1)[1].split("\n#", 1)[0]
    documented = re.findall(r"^\| `--(\w+)` \|", section, flags=re.M)
    module = importlib.import_module(f"dataplat_glue.{job}")
    assert documented == [a.name for a in module.ARGS]
    for arg in module.ARGS:
        row = next(x for x in section.splitlines() if x.startswith(f"| `--{arg.name}` |"))
        assert ("| yes |" in row) == arg.required, row
