"""Guards on the query plans of the hot path: no Python UDFs (no Python worker round trips), and
exactly one shuffle between reading raw text and writing processed Parquet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from dataplat_glue import processed_to_consumer, raw_to_processed
from dataplat_glue.args import resolve
from dataplat_glue.contract import JobContract
from dataplat_glue.spark import configure, struct_of
from support import line, order, write_lines

PYTHON_NODES = re.compile(
    r"BatchEvalPython|ArrowEvalPython|PythonUDF|FlatMapGroupsInPandas|MapInPandas|MapInArrow|PythonMapInArrow"
)


def executed_plan(df: DataFrame) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_raw_to_processed_runs_on_spark_builtins_with_one_parse_and_one_shuffle(
    spark: SparkSession, contracts: dict[str, dict], tmp_path: Path, env: str
) -> None:
    write_lines(tmp_path / "raw" / "a.jsonl", [line(order(1))])
    args = resolve(
        [
            "--local",
            "--dataset_contract",
            json.dumps(contracts[env]["orders"]),
            "--input_path",
            str(tmp_path / "raw"),
            "--output_path",
            str(tmp_path / "p"),
            "--quarantine_path",
            str(tmp_path / "q"),
            "--summary_path",
            str(tmp_path / "s"),
        ],
        raw_to_processed.ARGS,
    )
    configure(spark)
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # the static plan shows every exchange
    try:
        job = raw_to_processed._Run(spark, args)
        job.inputs = [o.file.path for o in job.objects()]  # as run() sets them after the check pass
        rows, _, _ = job.input_plan()  # exactly what the job writes
        plan = executed_plan(rows)
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", "true")
    assert not PYTHON_NODES.search(plan), plan
    assert len(re.findall(r"Exchange ", plan)) == 1, plan
    assert plan.count("from_json(") == 1, plan


def test_the_consumer_aggregate_runs_on_spark_builtins_with_one_shuffle(
    spark: SparkSession, contracts: dict[str, dict]
) -> None:
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        contract = JobContract.from_dict(contracts["prod"]["orders"])
        processed = spark.createDataFrame([], struct_of(contract.data_columns, contract.partition_names))
        frame, _ = processed_to_consumer.consumer_frame(processed, contract)
        plan = executed_plan(frame)
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", "true")
    assert not PYTHON_NODES.search(plan), plan
    assert len(re.findall(r"Exchange ", plan)) == 1, plan
