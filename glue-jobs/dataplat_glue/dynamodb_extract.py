"""DynamoDB → raw: a full table read through the export-based connector, landing NDJSON in raw.

In Glue, `dynamodb.export: ddb` makes the connector start a point-in-time export of the table to
S3 (`dynamodb.s3.bucket`/`prefix`) and read that, so the table's read capacity is not consumed
(the table needs point-in-time recovery on). `dynamodb.unnestDDBJson: true` turns DynamoDB JSON
(`{"S": "x"}`) into plain columns. Locally, `--local --input_path` reads the data files of such an
export (`AWSDynamoDB/<id>/data/*.json.gz`) and unmarshals them with `ddb_json`, which does what the
connector's unnesting does.
"""
from __future__ import annotations

import gzip
import os
from typing import Any, Optional, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from . import runtime
from .args import Arg, JobArgs
from .contract import JobContract
from .ddb_json import export_line_to_json
from .extract import to_ndjson, write_raw
from .spark import configure

JOB = "dynamodb_extract"
DESCRIPTION = "DynamoDB table (export connector, no read capacity used) → raw NDJSON under the dataset prefix"

ARGS = [
    Arg("dataset_contract", "the dataset's job contract (PartitionedDataset.jobContract() as JSON)", "'{\"name\":\"customers\",...}'"),
    Arg("output_path", "the dataset's root in the raw zone", "s3://dataplat-dev-raw/customers/"),
    Arg("table_arn", "source table (Glue only)", "arn:aws:dynamodb:eu-west-1:111111111111:table/customers", required=False),
    Arg("export_bucket", "bucket the connector exports the table to (Glue only)", "dataplat-dev-glue-scratch", required=False),
    Arg("export_prefix", "key prefix of the export (Glue only)", "ddb-exports/customers/", required=False),
    Arg("export_bucket_owner", "account owning export_bucket, when it is another account (Glue only)", "111111111111", required=False),
    Arg("input_path", "local runs only: folder of a DynamoDB export's data files (*.json.gz or *.json)", "./export/data/", required=False),
    Arg("run_id", "id in the raw file names (default: Glue's JOB_RUN_ID)", "sfn-exec-42", required=False),
    Arg("staging_path", "scratch folder before the commit (default: <output_path>/_staging)", "s3://dataplat-dev-raw/customers/_staging/",
        required=False),
]


def export_options(table_arn: str, bucket: str, prefix: str, bucket_owner: Optional[str] = None) -> dict[str, Any]:
    """Glue `connection_options` of the DynamoDB export connector."""
    options: dict[str, Any] = {
        "dynamodb.export": "ddb",
        "dynamodb.tableArn": table_arn,
        "dynamodb.unnestDDBJson": True,
        "dynamodb.s3.bucket": bucket,
        "dynamodb.s3.prefix": prefix,
    }
    if bucket_owner:
        options["dynamodb.s3.bucketOwner"] = bucket_owner
    return options


def read_export_files(path: str) -> list[str]:
    """Plain JSON lines of every item in a local export folder (files sorted by name)."""
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(path) for f in names
                   if f.endswith((".json.gz", ".json")) and not f.startswith(("_", ".", "manifest")))
    if not files:
        raise ValueError(f"dynamodb_extract: no export data files (*.json.gz, *.json) under {path}")
    lines = []
    for file in files:
        opener = gzip.open if file.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        lines.append(export_line_to_json(line))
                    except ValueError as e:
                        raise ValueError(f"dynamodb_extract: {file}:{n}: {e}") from None
    return lines


def read_source(spark: SparkSession, args: JobArgs, glue_context: Any) -> DataFrame:
    if glue_context is None:
        path = args.get("input_path")
        if not path:
            raise ValueError("dynamodb_extract: a local run needs --input_path (a DynamoDB export's data folder)")
        return spark.createDataFrame([(line,) for line in read_export_files(path)], T.StructType([T.StructField("value", T.StringType())]))
    for required in ("table_arn", "export_bucket", "export_prefix"):
        if not args.get(required):
            raise ValueError(f"dynamodb_extract: --{required} is required in Glue")
    dyf = glue_context.create_dynamic_frame.from_options(
        connection_type="dynamodb",
        connection_options=export_options(args["table_arn"], args["export_bucket"], args["export_prefix"], args.get("export_bucket_owner")),
    )
    return to_ndjson(dyf.toDF())


def run(spark: SparkSession, args: JobArgs, glue_context: Any = None) -> dict[str, Any]:
    configure(spark)
    contract = JobContract.from_json(args["dataset_contract"])
    run_id = args.run_id()
    ndjson = read_source(spark, args, glue_context)
    landed = write_raw(spark, ndjson, contract, args["output_path"], run_id, args.get("staging_path"))
    return {"job": JOB, "dataset": contract.name, "runId": run_id, "source": args.get("table_arn") or args.get("input_path"), "raw": landed}


def main(argv: Optional[Sequence[str]] = None, spark: Optional[SparkSession] = None) -> dict[str, Any]:
    return runtime.main(run, ARGS, DESCRIPTION, argv, spark)
