"""DynamoDB → raw: a full table export once, then incremental exports of what changed, landing
NDJSON in raw. Exports read the table's point-in-time-recovery data, not its read capacity (the
table needs point-in-time recovery on).

A run:
  1. reads the export history at `--state_path` (an S3 object; absent before the first run);
  2. without history, asks for a FULL_EXPORT at the current time; with it, for INCREMENTAL_EXPORTs
     from the last export's end to now, in windows of at most 24 hours (at most `--max_windows` per
     run; a run less than 15 minutes after the last window's end has nothing to export: AWS's floor);
  3. waits for each export, reads its manifest (`manifest-summary.json` → `manifest-files.json` →
     data files) and its DynamoDB JSON lines: `{"Item": …}` (full) or `{"Keys", "NewImage",
     "OldImage", "Metadata"}` (incremental, NEW_AND_OLD_IMAGES);
  4. lands every new or changed item (its NewImage) in raw, as the full export's items are landed;
  5. records every item deleted in the window (no NewImage) with its keys, its last image and the
     write time under `--deletions_path` (reason `deleted_in_source`) and counts it in the summary:
     raw and processed keep the item's last version, and nothing is dropped silently;
  6. only then writes the window's end to the history, so a failed run exports the same window again.

In Glue the data files are read by Spark from S3. A local run (`--local`) does the same against
AWS_ENDPOINT_URL (the emulator), copying the data files to a local folder first (local Spark has no
s3:// filesystem); with `--input_path` it reads a folder of export data files instead, with no
export and no history.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import tempfile
import time
from typing import Any, Callable, Optional, Sequence
from urllib.parse import urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import runtime
from .args import Arg, JobArgs
from .contract import JobContract
from .ddb_json import parse_export_line
from .extract import write_raw
from .spark import configure

JOB = "dynamodb_extract"
DESCRIPTION = "DynamoDB table (a full export, then incremental exports; no read capacity used) → raw NDJSON under the dataset prefix"

#: AWS's bounds of an incremental export's window.
MIN_WINDOW = dt.timedelta(minutes=15)
MAX_WINDOW = dt.timedelta(hours=24)
#: Exports kept in the history object (the newest), for operators.
HISTORY_KEPT = 50
UTC = dt.timezone.utc

ARGS = [
    Arg(
        "dataset_contract",
        "the dataset's job contract (PartitionedDataset.jobContract() as JSON)",
        '\'{"name":"events",...}\'',
    ),
    Arg("output_path", "the dataset's root in the raw zone", "s3://dataplat-dev-raw/events/"),
    Arg("table_arn", "source table", "arn:aws:dynamodb:eu-west-1:111111111111:table/events", required=False),
    Arg("export_bucket", "bucket the table is exported to", "dataplat-dev-glue-scratch", required=False),
    Arg("export_prefix", "key prefix of the exports", "dynamodb-exports/events/", required=False),
    Arg(
        "export_bucket_owner",
        "account owning export_bucket, when it is another account",
        "111111111111",
        required=False,
    ),
    Arg(
        "state_path",
        "S3 object holding the export history (where the next incremental export starts)",
        "s3://dataplat-dev-ingest-state/events/dynamodb-extract/exports.json",
        required=False,
    ),
    Arg(
        "deletions_path",
        "folder for the records of items deleted in the source (one object per run)",
        "s3://dataplat-dev-quarantine/events/dynamodb_extract/deletions/",
        required=False,
    ),
    Arg("max_windows", "incremental windows (≤ 24 h each) one run exports at most", "7", required=False, default="7"),
    Arg(
        "min_window_seconds",
        "shortest incremental window (AWS's floor, 15 minutes; tests against the emulator lower both)",
        "900",
        required=False,
        default="900",
    ),
    Arg(
        "input_path",
        "local runs only: folder of a DynamoDB export's data files (*.json.gz or *.json), instead of exporting",
        "./export/data/",
        required=False,
    ),
    Arg("run_id", "id in the raw file names (default: Glue's JOB_RUN_ID)", "sfn-exec-42", required=False),
    Arg(
        "staging_path",
        "scratch folder before the commit (default: _staging/<dataset>/ beside the output folder)",
        "s3://dataplat-dev-raw/_staging/events/",
        required=False,
    ),
]

_PARSED = T.StructType(
    [
        T.StructField("kind", T.StringType()),
        T.StructField("value", T.StringType()),
        T.StructField("old", T.StringType()),
        T.StructField("micros", T.LongType()),
    ]
)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def plan_exports(
    history: Optional[dict], now: dt.datetime, max_windows: int, min_window: dt.timedelta = MIN_WINDOW
) -> list[dict[str, Any]]:
    """The exports this run asks for: a full one without history, else the incremental windows since the last one."""
    if not history:
        return [{"type": "FULL_EXPORT", "exportTime": now}]
    start = _parse_time(history["exportedTo"])
    windows = []
    while len(windows) < max_windows and now - start >= min_window:
        end = min(now, start + MAX_WINDOW)
        windows.append({"type": "INCREMENTAL_EXPORT", "from": start, "to": end})
        start = end
    return windows


def _s3_location(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a") or not parsed.netloc:
        raise ValueError(f"dynamodb_extract: {uri} must be an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def _client(service: str) -> Any:
    import boto3  # in Glue and in the project's virtualenv; AWS_ENDPOINT_URL/AWS_CA_BUNDLE point it at the emulator locally

    return boto3.client(service)


def read_history(s3: Any, state_path: str) -> Optional[dict]:
    bucket, key = _s3_location(state_path)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        history = json.loads(body)
        _parse_time(history["exportedTo"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"dynamodb_extract: {state_path} is not an export history ({e}); fix it, or delete it to start again "
            "from a full export"
        ) from None
    return history


def write_history(s3: Any, state_path: str, history: Optional[dict], export: dict[str, Any]) -> dict:
    bucket, key = _s3_location(state_path)
    done = export.get("to") or export["exportTime"]
    entry = {
        "type": export["type"],
        "arn": export["arn"],
        "items": export["items"],
        "runId": export["runId"],
        **(
            {"from": _iso(export["from"]), "to": _iso(export["to"])}
            if export["type"] == "INCREMENTAL_EXPORT"
            else {"exportTime": _iso(done)}
        ),
    }
    updated = {"exportedTo": _iso(done), "exports": ((history or {}).get("exports", []) + [entry])[-HISTORY_KEPT:]}
    s3.put_object(
        Bucket=bucket, Key=key, Body=(json.dumps(updated, indent=1) + "\n").encode(), ContentType="application/json"
    )
    return updated


def start_export(ddb: Any, args: JobArgs, export: dict[str, Any]) -> dict:
    request: dict[str, Any] = {
        "TableArn": args["table_arn"],
        "S3Bucket": args["export_bucket"],
        "S3Prefix": args["export_prefix"],
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": export["type"],
    }
    if args.get("export_bucket_owner"):
        request["S3BucketOwner"] = args["export_bucket_owner"]
    if export["type"] == "FULL_EXPORT":
        request["ExportTime"] = export["exportTime"]
    else:
        request["IncrementalExportSpecification"] = {
            "ExportFromTime": export["from"],
            "ExportToTime": export["to"],
            "ExportViewType": "NEW_AND_OLD_IMAGES",
        }
    return ddb.export_table_to_point_in_time(**request)["ExportDescription"]


def wait_for_export(ddb: Any, arn: str, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Polls DescribeExport (5 s, doubling to 60 s) until the export ends; a failed one fails the run with its reason."""
    delay = 5.0
    while True:
        described = ddb.describe_export(ExportArn=arn)["ExportDescription"]
        if described["ExportStatus"] == "COMPLETED":
            return described
        if described["ExportStatus"] == "FAILED":
            raise RuntimeError(
                f"dynamodb_extract: export {arn} failed: {described.get('FailureCode')}: {described.get('FailureMessage')}"
            )
        sleep(delay)
        delay = min(60.0, delay * 2)


def data_file_keys(s3: Any, bucket: str, described: dict) -> list[str]:
    """The export's data files, from its manifests (the summary names the file list)."""
    summary = json.loads(s3.get_object(Bucket=bucket, Key=described["ExportManifest"])["Body"].read())
    listing = s3.get_object(Bucket=bucket, Key=summary["manifestFilesS3Key"])["Body"].read().decode("utf-8")
    return [json.loads(line)["dataFileS3Key"] for line in listing.splitlines() if line.strip()]


def local_export_files(path: str) -> list[str]:
    """Data files of a local export folder (or several, comma-separated), sorted by name."""
    files = sorted(
        os.path.join(root, f)
        for p in path.split(",")
        for root, _, names in os.walk(p)
        for f in names
        if f.endswith((".json.gz", ".json")) and not f.startswith(("_", ".", "manifest"))
    )
    if not files:
        raise ValueError(f"dynamodb_extract: no export data files (*.json.gz, *.json) under {path}")
    return files


def parsed_lines(spark: SparkSession, files: Sequence[str]) -> DataFrame:
    """Every line of the export files as (kind, value, old, micros): see `ddb_json.parse_export_line`."""
    if all(not f.startswith(("s3://", "s3a://")) for f in files):
        # Local files: read here, so a bad line names its file and line.
        rows = []
        for file in files:
            opener = gzip.open if file.endswith(".gz") else open
            with opener(file, "rt", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            rows.append(parse_export_line(line))
                        except ValueError as e:
                            raise ValueError(f"dynamodb_extract: {file}:{n}: {e}") from None
        return spark.createDataFrame(rows, _PARSED)
    parse = F.udf(lambda line: parse_export_line(line), _PARSED)
    return (
        spark.read.text(list(files))
        .where(F.length(F.trim("value")) > 0)
        .select(parse("value").alias("p"))
        .select("p.*")
    )


def fetch_local(s3: Any, bucket: str, keys: Sequence[str], folder: str) -> list[str]:
    out = []
    for i, key in enumerate(keys):
        target = os.path.join(folder, f"{i:05d}-{os.path.basename(key)}")
        s3.download_file(bucket, key, target)
        out.append(target)
    return out


def write_deletions(spark: SparkSession, deletions: list[dict], path: Optional[str], run_id: str) -> Optional[str]:
    """One gzip NDJSON object of this run's deletions (named by run: a rerun replaces it). None if there are none."""
    if not deletions:
        return None
    if not path:
        raise ValueError(
            f"dynamodb_extract: {len(deletions)} item(s) were deleted in the source and --deletions_path is not set: "
            "refusing to drop them silently"
        )
    body = gzip.compress(
        "".join(json.dumps(d, sort_keys=True, ensure_ascii=False) + "\n" for d in deletions).encode("utf-8")
    )
    target = path.rstrip("/") + f"/{run_id}.json.gz"
    if target.startswith(("s3://", "s3a://")):
        bucket, key = _s3_location(target)
        _client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(body)
    return target


def land(
    spark: SparkSession, lines: DataFrame, contract: JobContract, args: JobArgs, run_id: str, source: dict[str, Any]
) -> tuple[dict[str, Any], list[dict]]:
    """Lands the upserts of one export in raw; returns what landed and the deletions it carried."""
    lines = lines.cache()
    landed = write_raw(
        spark,
        lines.where(F.col("kind") == "upsert").select("value"),
        contract,
        args["output_path"],
        run_id,
        args.get("staging_path"),
    )
    deletions = []
    for row in lines.where(F.col("kind") == "delete").collect():
        deletions.append(
            {
                "reason": "deleted_in_source",
                "dataset": contract.name,
                "keys": json.loads(row["value"]),
                "last_image": json.loads(row["old"]) if row["old"] else None,
                "deleted_at": _iso(dt.datetime.fromtimestamp(row["micros"] / 1e6, UTC)) if row["micros"] else None,
                **source,
            }
        )
    lines.unpersist()
    return landed, deletions


def run(
    spark: SparkSession, args: JobArgs, glue_context: Any = None, now: Optional[dt.datetime] = None
) -> dict[str, Any]:
    configure(spark)
    contract = JobContract.from_json(args["dataset_contract"])
    run_id = args.run_id()
    if args.get("input_path"):
        if glue_context is not None:
            raise ValueError("dynamodb_extract: --input_path is for local runs; in Glue the job exports the table")
        landed, deletions = land(
            spark,
            parsed_lines(spark, local_export_files(args["input_path"])),
            contract,
            args,
            run_id,
            {"source": args["input_path"]},
        )
        return {
            "job": JOB,
            "dataset": contract.name,
            "runId": run_id,
            "source": args["input_path"],
            "raw": landed,
            "deleted": len(deletions),
            "deletions": write_deletions(spark, deletions, args.get("deletions_path"), run_id),
        }
    for required in ("table_arn", "export_bucket", "export_prefix", "state_path"):
        if not args.get(required):
            raise ValueError(f"dynamodb_extract: --{required} is required (or, locally, --input_path)")
    s3, ddb = _client("s3"), _client("dynamodb")
    history = read_history(s3, args["state_path"])
    min_window = dt.timedelta(seconds=int(args.get("min_window_seconds", "900")))
    planned = plan_exports(history, now or dt.datetime.now(UTC), int(args.get("max_windows", "7")), min_window)
    exports, raw, deleted = [], {"path": args["output_path"], "records": 0, "partitions": []}, 0
    for n, export in enumerate(planned):
        described = wait_for_export(ddb, start_export(ddb, args, export)["ExportArn"])
        keys = data_file_keys(s3, args["export_bucket"], described)
        export_run = run_id if len(planned) == 1 else f"{run_id}-{n + 1}"
        source = {"export_arn": described["ExportArn"], "export_type": export["type"]}
        if glue_context is None:
            with tempfile.TemporaryDirectory(prefix="ddb-export-") as folder:
                landed, deletions = land(
                    spark,
                    parsed_lines(spark, fetch_local(s3, args["export_bucket"], keys, folder)),
                    contract,
                    args,
                    export_run,
                    source,
                )
        else:
            landed, deletions = land(
                spark,
                parsed_lines(spark, [f"s3://{args['export_bucket']}/{k}" for k in keys]),
                contract,
                args,
                export_run,
                source,
            )
        deletions_object = write_deletions(spark, deletions, args.get("deletions_path"), export_run)
        # Only now is the window done: a run that failed before this line exports it again.
        history = write_history(
            s3,
            args["state_path"],
            history,
            {**export, "arn": described["ExportArn"], "items": described.get("ItemCount"), "runId": export_run},
        )
        raw["records"] += landed["records"]
        raw["partitions"] += landed["partitions"]
        deleted += len(deletions)
        exports.append(
            {
                "type": export["type"],
                "arn": described["ExportArn"],
                "items": described.get("ItemCount"),
                "landed": landed["records"],
                "deleted": len(deletions),
                "deletions": deletions_object,
                **(
                    {"from": _iso(export["from"]), "to": _iso(export["to"])}
                    if export["type"] == "INCREMENTAL_EXPORT"
                    else {"exportTime": _iso(export["exportTime"])}
                ),
            }
        )
    return {
        "job": JOB,
        "dataset": contract.name,
        "runId": run_id,
        "source": args["table_arn"],
        "exports": exports,
        "exportedTo": (history or {}).get("exportedTo"),
        "raw": raw,
        "deleted": deleted,
        **(
            {}
            if planned
            else {"nothingToExport": f"the last export ended less than {int(min_window.total_seconds())} s ago"}
        ),
    }


def main(argv: Optional[Sequence[str]] = None, spark: Optional[SparkSession] = None) -> dict[str, Any]:
    return runtime.main(run, ARGS, DESCRIPTION, argv, spark)
