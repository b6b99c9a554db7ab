"""What the RDS and DynamoDB extracts share: shaping source rows into raw NDJSON and landing them
in the raw zone under the dataset's prefix, laid out by the environment's partition spec.

Raw keeps records as they came (no validation: that is raw → processed's job). Partition values
follow Firehose's rule (`PartitionLayout.firehoseQuery`): the first 10 characters of the event-time
text for the date, characters 12-13 for the hour, the column's value for an enum. A record whose
value cannot form that path segment lands in `<key>=__HIVE_DEFAULT_PARTITION__/` instead of being
dropped, and raw → processed quarantines it with its reason.
"""

from __future__ import annotations

import re
from typing import Any

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .contract import JobContract
from .storage import Storage, commit_partitions, join

#: Timestamps in raw JSON: ISO-8601 in UTC with microseconds ("2024-05-01T13:45:00.000000Z").
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
RAW_EXT = ".json.gz"


def to_ndjson(df: DataFrame) -> DataFrame:
    """Every column of `df` as one JSON object per row (column `value`), nulls kept as null."""
    options = {"timestampFormat": TIMESTAMP_FORMAT, "dateFormat": "yyyy-MM-dd", "ignoreNullFields": "false"}
    return df.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns]), options).alias("value"))


def raw_partition_values(value: SparkColumn, contract: JobContract) -> list[SparkColumn]:
    """The partition columns of a raw record (JSON text), by Firehose's rule; null when unusable."""
    out = []
    for key in contract.partition_keys:
        text = F.get_json_object(value, f"$.{key.column}")
        if key.type == "date":
            v = F.when(text.rlike(r"^\d{4}-\d{2}-\d{2}"), F.substring(text, 1, 10))
        elif key.type == "hour":
            v = F.when(text.rlike(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}"), F.substring(text, 12, 2))
        else:
            v = F.when(text.rlike(r"^[a-z0-9][a-z0-9-]{0,30}$"), text)
        out.append(v.alias(key.name))
    return out


def safe_run_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def default_staging(output: str) -> str:
    """The extracts' scratch folder: `_staging/<dataset>/` at the root of the output's bucket (or
    folder), beside the dataset's folder rather than in it. Staged files under `<dataset>/` would
    match the dataset's raw-created trigger and its crawler target; beside it they match neither."""
    parent, _, name = output.rstrip("/").rpartition("/")
    if not name or parent.endswith(":/"):
        raise ValueError(
            f"output {output!r} must be a dataset folder inside a bucket or directory, e.g. s3://<bucket>/<dataset>/"
        )
    return f"{parent}/_staging/{name}/"


def write_raw(
    spark: SparkSession, ndjson: DataFrame, contract: JobContract, output: str, run_id: str, staging: str | None = None
) -> dict[str, Any]:
    """Lands `ndjson` (column `value`) under `output` as gzip NDJSON, one file per partition per run,
    named `part-<run_id>-00000.json.gz` so runs append and a rerun of one run replaces its files."""
    storage = Storage(spark)
    staging = join(staging or default_staging(output), safe_run_id(run_id))
    storage.delete(staging)
    pnames = contract.partition_names
    shaped = ndjson.select("value", *raw_partition_values(F.col("value"), contract)).repartition(*pnames)
    counts = {
        tuple(r[p] for p in pnames): r["n"] for r in shaped.groupBy(*pnames).agg(F.count(F.lit(1)).alias("n")).collect()
    }
    if counts:
        (
            shaped.sortWithinPartitions(*pnames, "value")
            .write.mode("overwrite")
            .option("compression", "gzip")
            .partitionBy(*pnames)
            .text(join(staging, "raw"))
        )
    committed = commit_partitions(
        storage, join(staging, "raw"), output, RAW_EXT, name_prefix=f"part-{safe_run_id(run_id)}-", staged_ext=".txt.gz"
    )
    storage.delete(staging)

    def rows(path: str) -> int:
        values = dict(seg.split("=", 1) for seg in path.strip("/").split("/"))
        return counts[tuple(None if values[p] == "__HIVE_DEFAULT_PARTITION__" else values[p] for p in pnames)]

    return {
        "path": output,
        "records": sum(counts.values()),
        "partitions": [{"path": c.path, "rows": rows(c.path), "files": list(c.files)} for c in committed],
    }
