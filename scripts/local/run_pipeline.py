"""
The local data path, against the emulator the `local` stack was applied to (scripts/main-job.ts
starts the emulator, applies the stack, runs the real api-ingest handler, then this).

  1. Lands the other sources in the raw zone the way the platform does:
     orders       the RDS extract job (local mode: a table dump stands in for the JDBC read)
     customers    a DynamoDB table in the emulator, exported to the scratch bucket with
                  ExportTableToPointInTime, then the DynamoDB extract job over the export files
     clickstream  events put on the deployed Kinesis stream, read back and delivered to raw with
                  the deployed Firehose's own prefix and JQ partition query (moto's Firehose
                  neither reads Kinesis sources nor partitions dynamically)
     shipments    already in raw: the real api-ingest handler wrote it
  2. Runs the Glue scripts with local PySpark for every dataset, as a pipeline execution does: a
     manifest naming the landed raw keys → raw → processed (+ quarantine, run summary) → consumer
     for the partitions that run touched. Inputs are downloaded from the emulator's S3, outputs uploaded back with
     each zone's KMS key, so the zones' bucket policies apply to every write.
  3. Runs a dataset's deployed Athena named query with DuckDB over the consumer Parquet read back
     from the emulator.
  4. Reconciles: raw = processed + quarantined per dataset; consumer totals match processed.

Writes a JSON report (--report). Exit code 0 when every dataset reconciles, 3 when the run completed
but something does not reconcile (the report says what), anything else on a crash.

Environment: the emulator's (AWS_ENDPOINT_URL, AWS_CA_BUNDLE, credentials, AWS_REGION).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

import boto3
import duckdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "glue-jobs"))

RUN_ID = "local-e2e"
# Reference time of the jobs' future-date rule: fixed, so a second run gives the same result.
AS_OF = "2024-01-04T00:00:00Z"


def log(message: str) -> None:
    print(f"      · {message}", flush=True)


class Lake:
    """The deployed buckets and keys (from `terraform output`), with sync to and from local folders."""

    def __init__(self, outputs: dict):
        self.s3 = boto3.client("s3")
        self.out = outputs
        self.buckets = {zone: outputs[f"lake_{zone}_bucket_name"] for zone in ("raw", "processed", "consumer", "quarantine")}
        self.keys = {zone: outputs[f"lake_{zone}_kms_key_arn"] for zone in ("raw", "processed", "consumer", "quarantine")}

    def upload_dir(self, local: Path, zone: str, prefix: str) -> int:
        """Uploads every data file under `local` to <zone>/<prefix>, naming the zone's key (the bucket policy requires it)."""
        count = 0
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            rel = path.relative_to(local).as_posix()
            if "_staging" in rel.split("/") or path.name.startswith((".", "_SUCCESS")) or path.suffix == ".crc":
                continue
            self.s3.put_object(
                Bucket=self.buckets[zone], Key=f"{prefix}{rel}", Body=path.read_bytes(),
                ServerSideEncryption="aws:kms", SSEKMSKeyId=self.keys[zone],
            )
            count += 1
        return count

    def download_prefix(self, zone: str, prefix: str, local: Path) -> list[Path]:
        return download(self.s3, self.buckets[zone], prefix, local)


def download(s3, bucket: str, prefix: str, local: Path) -> list[Path]:  # noqa: ANN001
    local.mkdir(parents=True, exist_ok=True)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix):]
            if not rel or "_staging/" in rel:
                continue
            target = local / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            files.append(target)
    return files


def ndjson_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [line for line in data.decode("utf-8", errors="replace").split("\n") if line != ""]


# ----------------------------------------------------------------------------------------------
# 1. Sources → raw
# ----------------------------------------------------------------------------------------------
def land_orders(spark, lake: Lake, contract: dict, samples: Path, work: Path) -> int:  # noqa: ANN001
    from dataplat_glue import rds_extract

    out = work / "extract" / "orders"
    rds_extract.main(["--local", "--dataset_contract", json.dumps(contract), "--input_path", str(samples / "orders.jsonl"),
                      "--output_path", str(out), "--run_id", RUN_ID], spark=spark)
    return lake.upload_dir(out, "raw", "orders/")


def land_customers(spark, lake: Lake, contract: dict, samples: Path, work: Path) -> int:  # noqa: ANN001
    from dataplat_glue import dynamodb_extract

    ddb = boto3.resource("dynamodb")
    table_name = "customers"
    table = ddb.create_table(
        TableName=table_name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
    )
    table.meta.client.update_continuous_backups(
        TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    with table.batch_writer() as batch:
        for item in json.loads((samples / "customers.json").read_text()):
            batch.put_item(Item=item)
    scratch = lake.out["ingestion_scratch_bucket_name"]
    prefix = f"dynamodb-exports/{table_name}"
    export = table.meta.client.export_table_to_point_in_time(
        TableArn=table.table_arn, S3Bucket=scratch, S3Prefix=prefix, ExportFormat="DYNAMODB_JSON")["ExportDescription"]
    for _ in range(100):
        status = table.meta.client.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]["ExportStatus"]
        if status != "IN_PROGRESS":
            break
        time.sleep(0.1)
    if status != "COMPLETED":
        raise RuntimeError(f"DynamoDB export ended {status}")
    export_dir = work / "ddb-export"
    files = download(lake.s3, scratch, f"{prefix}/", export_dir)
    log(f"DynamoDB export: {len(files)} file(s) in s3://{scratch}/{prefix}/")
    data_dirs = sorted({str(f.parent) for f in files if f.parent.name == "data"})
    out = work / "extract" / "customers"
    dynamodb_extract.main(["--local", "--dataset_contract", json.dumps(contract), "--input_path", ",".join(data_dirs),
                           "--output_path", str(out), "--run_id", RUN_ID], spark=spark)
    return lake.upload_dir(out, "raw", "customers/")


def eval_jq(query: str, record: dict) -> dict:
    """The JQ subset Firehose metadata extraction uses here: {k: .field, k: .field[a:b]}."""
    match = re.fullmatch(r"\{(.*)\}", query.strip())
    if not match:
        raise ValueError(f"unsupported JQ query {query!r}")
    values = {}
    for part in match.group(1).split(","):
        key, expr = (s.strip() for s in part.split(":", 1))
        m = re.fullmatch(r"\.(\w+)(?:\[(\d+):(\d+)\])?", expr)
        if not m:
            raise ValueError(f"unsupported JQ expression {expr!r}")
        value = record.get(m.group(1))
        if m.group(2) is not None and isinstance(value, str):
            value = value[int(m.group(2)):int(m.group(3))]
        values[key] = value
    return values


def land_clickstream(lake: Lake, contract: dict, samples: Path) -> int:
    stream = lake.out["ingestion_kinesis_stream_names"][contract["name"]]
    delivery = lake.out["ingestion_firehose_stream_names"][contract["name"]]
    kinesis = boto3.client("kinesis")
    lines = (samples / "clickstream.jsonl").read_text().splitlines()
    for start in range(0, len(lines), 100):
        batch = lines[start:start + 100]
        kinesis.put_records(StreamName=stream, Records=[
            {"Data": line.encode(), "PartitionKey": json.loads(line)["event_id"]} for line in batch])
    # Read the stream back, as Firehose's Kinesis source does.
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records += [r["Data"] for r in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    # Deliver with the deployed delivery stream's own configuration.
    description = boto3.client("firehose").describe_delivery_stream(DeliveryStreamName=delivery)["DeliveryStreamDescription"]
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    prefix, error_prefix = destination["Prefix"], destination.get("ErrorOutputPrefix", "errors/")
    processors = destination.get("ProcessingConfiguration", {}).get("Processors", [])
    query = next(p["ParameterValue"] for proc in processors if proc["Type"] == "MetadataExtraction"
                 for p in proc["Parameters"] if p["ParameterName"] == "MetadataExtractionQuery")
    append_newline = any(proc["Type"] == "AppendDelimiterToRecord" for proc in processors)
    groups: dict[str, list[bytes]] = {}
    for data in records:
        try:
            keys = eval_jq(query, json.loads(data))
            key_prefix = re.sub(r"!\{partitionKeyFromQuery:(\w+)\}", lambda m: str(keys[m.group(1)]), prefix)
        except (ValueError, KeyError):
            key_prefix = error_prefix.replace("!{firehose:error-output-type}", "processing-failed")
        groups.setdefault(key_prefix, []).append(data + (b"\n" if append_newline else b""))
    for key_prefix, chunks in sorted(groups.items()):
        body = gzip.compress(b"".join(chunks), mtime=0)
        name = f"{delivery}-1-{hashlib.sha256(body).hexdigest()[:16]}.gz"
        lake.s3.put_object(Bucket=lake.buckets["raw"], Key=f"{key_prefix}{name}", Body=body,
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=lake.keys["raw"])
    log(f"Kinesis {stream}: {len(records)} record(s) → {len(groups)} Firehose object(s) by {query}")
    return len(groups)


# ----------------------------------------------------------------------------------------------
# 2. Glue scripts
# ----------------------------------------------------------------------------------------------
def consumer_location(contract: dict, outputs: dict) -> tuple[str, str]:
    """Bucket and prefix of the dataset's consumer table, as the deployed catalog records it."""
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName=outputs["catalog_consumer_database_name"], Name=contract["consumerTable"])["Table"]
    match = re.fullmatch(r"s3://([^/]+)/(.*?)/?", table["StorageDescriptor"]["Location"])
    return match.group(1), f"{match.group(2)}/"


def transform(spark, lake: Lake, contract: dict, work: Path) -> dict:  # noqa: ANN001
    from dataplat_glue import processed_to_consumer, raw_to_processed

    name = contract["name"]
    raw_dir, processed_dir = work / "raw" / name, work / "processed" / name
    quarantine_dir = work / "quarantine" / name / "raw_to_processed"
    raw_files = lake.download_prefix("raw", f"{name}/", raw_dir)
    lake.download_prefix("processed", f"{name}/", processed_dir)  # a rerun merges with what is stored
    # The landing's manifest, as the state machine writes it for a Pipe batch: the raw keys that landed.
    manifest = work / "manifests" / name / f"{RUN_ID}.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps([{"key": f"{name}/{p.relative_to(raw_dir).as_posix()}"} for p in raw_files]))
    summary_file = quarantine_dir / "runs" / f"{RUN_ID}.json"
    summary = raw_to_processed.main([
        "--local", "--dataset_contract", json.dumps(contract), "--manifest_path", str(manifest), "--raw_root", str(raw_dir),
        "--output_path", str(processed_dir), "--quarantine_path", str(quarantine_dir),
        "--summary_path", str(summary_file), "--run_id", RUN_ID, "--as_of", AS_OF,
    ], spark=spark)
    lake.upload_dir(processed_dir, "processed", f"{name}/")
    lake.upload_dir(work / "quarantine" / name, "quarantine", f"{name}/")

    bucket, prefix = consumer_location(contract, lake.out)
    if bucket != lake.buckets["consumer"]:
        raise RuntimeError(f"{name}: the catalog's consumer table lives in {bucket}, not the consumer zone")
    consumer_dir = work / "consumer" / contract["consumerTable"]
    consumer_summary = processed_to_consumer.main([
        "--local", "--dataset_contract", json.dumps(contract), "--input_path", str(processed_dir), "--partitions_path", str(summary_file),
        "--output_path", str(consumer_dir), "--summary_path", str(work / "consumer-summaries" / f"{name}.json"), "--run_id", RUN_ID,
    ], spark=spark)
    lake.upload_dir(consumer_dir, "consumer", prefix)
    return {"rawFiles": raw_files, "summary": summary, "consumerSummary": consumer_summary, "consumerPrefix": prefix}


# ----------------------------------------------------------------------------------------------
# 3 + 4. Query and reconcile, from what the emulator stores
# ----------------------------------------------------------------------------------------------
def parquet_glob(folder: Path) -> str:
    return str(folder / "**" / "*.parquet")


def reconcile(lake: Lake, contract: dict, result: dict, work: Path, db: duckdb.DuckDBPyConnection) -> dict:
    name = contract["name"]
    check = work / "check" / name
    raw = sum(len(ndjson_lines(p)) for p in result["rawFiles"])
    processed_files = lake.download_prefix("processed", f"{name}/", check / "processed")
    quarantine_files = lake.download_prefix("quarantine", f"{name}/raw_to_processed/", check / "quarantine")
    consumer_files = lake.download_prefix("consumer", result["consumerPrefix"], check / "consumer")
    processed = db.execute(f"SELECT count(*) FROM read_parquet('{parquet_glob(check / 'processed')}')").fetchone()[0] if processed_files else 0
    # One file per source object under objects/ (run summaries sit beside them under runs/).
    quarantined_rows = [json.loads(line) for p in quarantine_files if p.relative_to(check / "quarantine").parts[0] == "objects"
                        for line in ndjson_lines(p)]
    by_reason: dict[str, int] = {}
    for row in quarantined_rows:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    report = {
        "raw": raw, "processed": processed, "quarantined": len(quarantined_rows), "quarantinedByReason": dict(sorted(by_reason.items())),
        "consumerTable": contract["consumerTable"], "rawReconciled": raw == processed + len(quarantined_rows),
    }
    consumer = f"read_parquet('{parquet_glob(check / 'consumer')}', hive_partitioning = true, hive_types_autocast = false)"
    source = f"read_parquet('{parquet_glob(check / 'processed')}', hive_partitioning = true, hive_types_autocast = false)"
    if not consumer_files:
        report.update(consumerRows=0, consumerReconciled=processed == 0)
    elif contract["consumer"]["kind"] == "curated":
        rows = db.execute(f"SELECT count(*) FROM {consumer}").fetchone()[0]
        report.update(consumerRows=rows, consumerReconciled=rows == processed)
    else:
        measures = {m["name"]: m for m in contract["consumer"]["measures"]}
        totals = {}
        ok = True
        for measure_name, m in measures.items():
            if m["fn"] == "count":
                got, want = db.execute(f"SELECT sum({measure_name}) FROM {consumer}").fetchone()[0], processed
            elif m["fn"] == "sum":
                got = db.execute(f"SELECT sum({measure_name}) FROM {consumer}").fetchone()[0]
                want = db.execute(f"SELECT sum({m['column']}) FROM {source}").fetchone()[0]
            else:
                continue  # distinct counts do not add up across groups; nothing to reconcile
            totals[measure_name] = {"consumer": str(got), "processed": str(want)}
            ok = ok and got == want
        report.update(consumerRows=db.execute(f"SELECT count(*) FROM {consumer}").fetchone()[0], consumerTotals=totals, consumerReconciled=ok)
    return report


def run_named_query(lake: Lake, dataset: str, work: Path, db: duckdb.DuckDBPyConnection, contracts: dict) -> dict:
    athena = boto3.client("athena")
    query_id = lake.out["athena_named_query_ids"][dataset]
    named = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
    database = lake.out["catalog_consumer_database_name"]
    table = contracts[dataset]["consumerTable"]
    folder = work / "check" / dataset / "consumer"
    db.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
    db.execute(f'CREATE OR REPLACE VIEW "{database}"."{table}" AS SELECT * FROM read_parquet('
               f"'{parquet_glob(folder)}', hive_partitioning = true, hive_types_autocast = false)")
    cursor = db.execute(named["QueryString"])
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, (str(v) if v is not None else None for v in row))) for row in cursor.fetchall()]
    return {"name": named["Name"], "sql": named["QueryString"], "columns": columns, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", required=True, help="terraform output -json of the local stack")
    parser.add_argument("--contracts", required=True, help="scripts/export-contracts.ts local")
    parser.add_argument("--samples", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--query-dataset", default="orders", help="whose named query to run")
    args = parser.parse_args()

    outputs = {k: v["value"] for k, v in json.loads(Path(args.outputs).read_text()).items()}
    contracts = json.loads(Path(args.contracts).read_text())
    work, samples = Path(args.work), Path(args.samples)
    shutil.rmtree(work, ignore_errors=True)
    lake = Lake(outputs)

    from dataplat_glue.spark import local_session

    spark = local_session()
    spark.sparkContext.setLogLevel("ERROR")
    log("landing sources in raw: RDS extract, DynamoDB export extract, Kinesis → Firehose")
    land_orders(spark, lake, contracts["orders"], samples, work)
    land_customers(spark, lake, contracts["customers"], samples, work)
    land_clickstream(lake, contracts["clickstream"], samples)

    db = duckdb.connect()
    report: dict = {"datasets": {}}
    for name in sorted(contracts):
        log(f"{name}: raw → processed → consumer (Glue scripts, local PySpark)")
        result = transform(spark, lake, contracts[name], work)
        report["datasets"][name] = reconcile(lake, contracts[name], result, work, db)
    spark.stop()
    log(f"running the deployed named query for {args.query_dataset} with DuckDB")
    report["query"] = run_named_query(lake, args.query_dataset, work, db, contracts)
    report["reconciled"] = all(d["rawReconciled"] and d["consumerReconciled"] for d in report["datasets"].values())
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(0 if report["reconciled"] else 3)


if __name__ == "__main__":
    main()
