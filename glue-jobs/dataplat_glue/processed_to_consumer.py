"""processed → consumer: the dataset's consumer view, partitioned like processed.

- `curated`: the processed rows as they are (the table analysts query).
- `aggregate`: one row per partition and `groupBy` values, with the contract's measures, typed as
  the catalog declares them (`consumerColumns` of the job contract).

Which partitions a run rebuilds:
- `--partitions_path`: the raw → processed run summary of the same pipeline execution; exactly
  its `touched` partitions (all keys of the partition spec) are rebuilt. An empty list rebuilds
  nothing and succeeds. Only those processed folders are read.
- `--dates` (operators): every partition of those values of the date key.
- neither: every processed partition.

Each partition rebuilt is rewritten whole in the consumer zone (dynamic partition overwrite with
stable file names), so reruns give identical files; no other consumer partition is written.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import runtime
from .args import Arg, JobArgs
from .contract import JobContract
from .spark import configure, spark_type, struct_of, write_parquet
from .storage import Storage, commit_partitions, join

JOB = "processed_to_consumer"
DESCRIPTION = "processed Parquet → the consumer table (curated copy or aggregate), same partitioning"
PARQUET = ".snappy.parquet"

ARGS = [
    Arg(
        "dataset_contract",
        "the dataset's job contract (PartitionedDataset.jobContract() as JSON)",
        '\'{"name":"events",...}\'',
    ),
    Arg("input_path", "the dataset's root in the processed zone", "s3://dataplat-dev-processed/events/"),
    Arg("output_path", "the consumer table's root in the consumer zone", "s3://dataplat-dev-consumer/events_daily/"),
    Arg(
        "partitions_path",
        "the raw_to_processed run summary whose `touched` partitions are rebuilt (not with --dates)",
        "s3://dataplat-dev-quarantine/events/raw_to_processed/runs/exec-42.json",
        required=False,
    ),
    Arg(
        "dates",
        "comma-separated values of the date key to rebuild (default: every processed partition)",
        "2024-05-01,2024-05-02",
        required=False,
    ),
    Arg(
        "summary_path",
        "file this run's summary JSON is written to (default: none); a folder ending in / gets <run_id>.json",
        "s3://dataplat-dev-quarantine/events/processed_to_consumer/runs/exec-42.json",
        required=False,
    ),
    Arg("run_id", "id stamped on the summary (default: Glue's JOB_RUN_ID)", "sfn-exec-42", required=False),
    Arg(
        "staging_path",
        "scratch folder for Spark's output before the commit (default: <output_path>/_staging)",
        "s3://dataplat-dev-consumer/events_daily/_staging/",
        required=False,
    ),
]


def consumer_frame(processed: DataFrame, contract: JobContract) -> tuple[DataFrame, list[str]]:
    """The consumer rows of `processed` (data columns + partition columns) and their sort key."""
    pnames = contract.partition_names
    view = contract.consumer
    clustered = processed.repartition(*pnames)  # one shuffle; aggregation and writer both reuse it
    if view.kind == "curated":
        cols = [c.name for c in contract.consumer_columns] + pnames
        return clustered.select(*cols), pnames + list(contract.primary_key)
    types = {c.name: c.type for c in contract.consumer_columns}
    group = pnames + [g for g in view.group_by if g not in pnames]
    measures: list[SparkColumn] = []
    for m in view.measures:
        if m.fn == "count":
            expr = F.count(F.lit(1))
        elif m.fn == "sum":
            expr = F.sum(m.column)
        else:
            expr = F.countDistinct(m.column)
        measures.append(expr.cast(spark_type(types[m.name])).alias(m.name))
    out = clustered.groupBy(*group).agg(*measures)
    return out.select(*[c.name for c in contract.consumer_columns], *pnames), group


def touched_partitions(text: str, contract: JobContract, where: str) -> list[dict[str, str]]:
    """The `touched` list of a raw_to_processed summary, checked against the partition spec."""
    try:
        touched = json.loads(text).get("touched")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"--partitions_path {where}: not a raw_to_processed run summary (JSON object)") from None
    if not isinstance(touched, list):
        raise ValueError(f'--partitions_path {where}: has no "touched" list (a raw_to_processed run summary has one)')
    names = contract.partition_names
    for i, p in enumerate(touched):
        if (
            not isinstance(p, dict)
            or sorted(p) != sorted(names)
            or not all(isinstance(v, str) and v and "/" not in v for v in p.values())
        ):
            raise ValueError(
                f"--partitions_path {where}: touched[{i}] must give a value for exactly {', '.join(names)} (got {json.dumps(p)[:200]})"
            )
    return [{n: p[n] for n in names} for p in touched]


def run(spark: SparkSession, args: JobArgs, glue_context: Any = None) -> dict[str, Any]:
    configure(spark)
    contract = JobContract.from_json(args["dataset_contract"])
    run_id = args.run_id()
    source, output = args["input_path"], args["output_path"]
    storage = Storage(spark)
    staging = join(args.get("staging_path") or join(output, "_staging"), run_id)
    storage.delete(staging)
    pnames = contract.partition_names
    dates = [d.strip() for d in (args.get("dates") or "").split(",") if d.strip()]
    partitions: Optional[list[dict[str, str]]] = None
    if args.get("partitions_path"):
        if dates:
            raise ValueError("give --partitions_path or --dates, not both")
        partitions = touched_partitions(storage.read_text(args["partitions_path"]), contract, args["partitions_path"])

    committed, input_rows, rows = [], 0, {}
    # Only the named folders are listed (a big dataset is never listed whole).
    if partitions is not None:
        folders = [join(source, contract.partition_path(p)) for p in partitions]
    else:
        folders = [join(source, f"{contract.date_key.name}={d}/") for d in dates] if dates else [source]
    folders = [f for f in folders if storage.exists(f)]
    if folders:
        processed = (
            spark.read.schema(struct_of(contract.data_columns, pnames)).option("basePath", source).parquet(*folders)
        )
        input_rows = processed.count()
        if input_rows:
            frame, sort_key = consumer_frame(processed, contract)
            write_parquet(frame.sortWithinPartitions(*sort_key), join(staging, "consumer"), pnames)
            committed = commit_partitions(storage, join(staging, "consumer"), output, PARQUET)
            written = (
                spark.read.schema(struct_of(contract.consumer_columns, pnames))
                .option("basePath", output)
                .parquet(*[join(output, c.path) for c in committed])
            )
            rows = {
                contract.partition_path(r.asDict()): r["n"]
                for r in written.groupBy(*pnames).agg(F.count(F.lit(1)).alias("n")).collect()
            }
    storage.delete(staging)

    summary = {
        "job": JOB,
        "dataset": contract.name,
        "runId": run_id,
        "input": {
            "path": source,
            "dates": dates,
            **({"partitionsPath": args["partitions_path"], "partitions": partitions} if partitions is not None else {}),
            "rows": input_rows,
        },
        "consumer": {
            "table": contract.consumer_table,
            "kind": contract.consumer.kind,
            "path": output,
            "rows": sum(rows.values()),
            "partitions": [{"path": c.path, "rows": rows.get(c.path, 0), "files": list(c.files)} for c in committed],
        },
    }
    summary_path = args.run_file("summary_path", run_id)
    if summary_path:
        storage.write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: Optional[Sequence[str]] = None, spark: Optional[SparkSession] = None) -> dict[str, Any]:
    return runtime.main(run, ARGS, DESCRIPTION, argv, spark)
