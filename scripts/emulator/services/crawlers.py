"""
Glue crawlers: StartCrawler crawls the crawler's S3 targets into the Glue catalog.

moto 5.2.1 moves a crawl from RUNNING to COMPLETED and touches nothing else: no table, no
partition. It also lacks UpdateCrawler (terraform calls it for every changed crawler). Here:
  * StartCrawler starts a real crawl in the background. It lists each S3 target with the
    crawler role's credentials (STS AssumeRole), skipping the target's Exclusions (glob patterns
    relative to the target path, `**` across folders), and finds each table's root: the target
    path, or with Configuration Grouping.TableLevelConfiguration = N the folder at level N
    (level 1 is the bucket). Folders between the root and a file are partitions: `key=value`
    folders name their key, others are partition_0, partition_1, ... as Glue names them.
  * A missing table (TablePrefix + the root folder's name, lower-cased, `-` as `_`) is created
    with the schema of its first data file: JSON lines (OpenX JSON SerDe), CSV with a header
    (LazySimpleSerDe, every column a string), or Parquet (its schema); compressed `.gz` JSON/CSV
    too. An existing table keeps its schema (SchemaChangePolicy UpdateBehavior LOG, and new
    partitions inherit the table's storage, as CrawlerOutput InheritFromTable says); an
    UPDATE_IN_DATABASE policy is logged and treated as LOG. Missing partitions are added; none is
    deleted (DeleteBehavior is treated as LOG).
  * The crawl stays RUNNING until it ends; LastCrawl then reads SUCCEEDED, or FAILED with its
    ErrorMessage, with the start time, and the crawl's messages go to the /aws-glue/crawlers log
    group, stream <crawler name>, prefixed by the crawl id (LastCrawl.MessagePrefix).
  * UpdateCrawler changes the named fields of a crawler that is not running.
  * A crawler with a cron Schedule starts on it (the scheduler module's cron evaluation).
Written for moto 5.2.1.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from . import LOG, assume_role, backends, client, every, require_moto

if TYPE_CHECKING:
    import pyarrow as pa
    from botocore.client import BaseClient
    from moto.core.responses import EmptyResult
    from moto.glue.models import FakeCrawl, FakeCrawler
    from moto.glue.responses import GlueResponse

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
CSV_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
TEXT_IN, HIVE_OUT = (
    "org.apache.hadoop.mapred.TextInputFormat",
    "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
)
PARQUET_IN, PARQUET_OUT = (
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
)
SAMPLE_BYTES = 1 << 20  # what a schema is inferred from: the first MiB of the first file


def register() -> None:
    require_moto("crawlers", "5.2.1")
    from moto.glue.models import FakeCrawl, FakeCrawler
    from moto.glue.responses import GlueResponse

    if hasattr(GlueResponse, "update_crawler"):
        raise SystemExit("emulator: this moto has UpdateCrawler; revisit services/crawlers.py")

    original_start, original_advance, original_as_dict = (
        FakeCrawler.start_crawler,
        FakeCrawl.advance,
        FakeCrawler.as_dict,
    )

    def start_crawler(self: FakeCrawler) -> None:
        original_start(self)
        crawl = self.crawls[-1]
        crawl._emulated_running = True
        threading.Thread(target=_crawl, args=(self, crawl), name=f"crawl-{self.name}", daemon=True).start()

    def advance(self: FakeCrawl) -> None:
        # A real crawl ends when its work ends, not when it is described.
        if not getattr(self, "_emulated_running", False):
            original_advance(self)

    def as_dict(self: FakeCrawler) -> dict[str, Any]:
        data = original_as_dict(self)
        last = self.crawls[-1] if self.crawls else None
        if last is not None and getattr(last, "_error", None):
            data["LastCrawl"]["Status"] = "FAILED"
            data["LastCrawl"]["ErrorMessage"] = last._error
        return data

    FakeCrawler.start_crawler, FakeCrawl.advance, FakeCrawler.as_dict = start_crawler, advance, as_dict
    GlueResponse.update_crawler = _update_crawler
    every(5.0, "crawler-schedules", _scheduled)


# --------------------------------------------------------------------------------------------
# UpdateCrawler
# --------------------------------------------------------------------------------------------
_UPDATABLE = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
    "Schedule": "schedule",
}


# Installed as GlueResponse.update_crawler.
def _update_crawler(self: GlueResponse) -> EmptyResult:
    from moto.core.responses import EmptyResult
    from moto.glue.exceptions import CrawlerRunningException

    crawler = self.glue_backend.get_crawler(self.parameters.get("Name"))
    if crawler.status != "READY":
        raise CrawlerRunningException(f"Crawler with name {crawler.name} is {crawler.status}; it cannot be updated now")
    for param, attr in _UPDATABLE.items():
        if param in self.parameters:
            setattr(crawler, attr, self.parameters[param])
    crawler.version += 1
    crawler.last_updated = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return EmptyResult()


# --------------------------------------------------------------------------------------------
# Scheduled crawls
# --------------------------------------------------------------------------------------------
_next_scheduled: dict[str, tuple[str, dt.datetime | None]] = {}


def _scheduled() -> None:
    from moto.glue.models import glue_backends

    from .scheduler import next_fire

    now = dt.datetime.now(dt.timezone.utc)
    for _account, _region, backend in backends(glue_backends):
        for crawler in list(backend.crawlers.values()):
            if not crawler.schedule:
                continue
            known = _next_scheduled.get(crawler.arn)
            if known is None or known[0] != crawler.schedule:
                try:
                    known = (crawler.schedule, next_fire(crawler.schedule, now))
                except (ValueError, KeyError) as error:
                    LOG.error("crawler %s: schedule %s never fires: %s", crawler.name, crawler.schedule, error)
                    known = (crawler.schedule, None)
                _next_scheduled[crawler.arn] = known
            if known[1] is not None and known[1] <= now:
                _next_scheduled[crawler.arn] = (crawler.schedule, next_fire(crawler.schedule, now))
                if crawler.status == "READY":
                    crawler.start_crawler()


# --------------------------------------------------------------------------------------------
# The crawl
# --------------------------------------------------------------------------------------------
def _glob(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _table_name(prefix: str | None, folder: str) -> str:
    return (prefix or "") + re.sub(r"[^a-z0-9_]", "_", folder.lower())


def _crawl(crawler: FakeCrawler, crawl: FakeCrawl) -> None:
    messages: list[str] = []

    def say(text: str) -> None:
        messages.append(f"[{crawl.crawl_id}] {text}")

    started = time.monotonic()
    try:
        say(f"BENCHMARK : Running Start Crawl for Crawler {crawler.name}")
        account, region = crawler.backend.account_id, crawler.backend.region_name
        credentials = assume_role(crawler.role, f"crawler-{crawler.name}")
        s3, glue = client("s3", account, region, credentials), client("glue", account, region, credentials)
        config = json.loads(crawler.configuration) if crawler.configuration else {}
        level = (config.get("Grouping") or {}).get("TableLevelConfiguration")
        policy = (crawler.schema_change_policy or {}).get("UpdateBehavior", "UPDATE_IN_DATABASE")
        if policy != "LOG":
            say(
                f"SchemaChangePolicy UpdateBehavior {policy} is treated as LOG by the emulator: existing tables keep their schema"
            )
        for target in (crawler.targets or {}).get("S3Targets", []):
            _crawl_target(crawler, target, level, s3, glue, say)
        say("BENCHMARK : Crawler has finished running and is in state READY")
    except Exception as error:  # noqa: BLE001 - the crawl fails, the server goes on
        LOG.exception("crawler %s: crawl failed", crawler.name)
        say(f"ERROR : {error}")
        crawl._error = f"Internal Service Exception: {error}" if not isinstance(error, CrawlError) else str(error)
    finally:
        crawler.crawl_elapsed_time = int((time.monotonic() - started) * 1000)
        _write_log(crawler, messages)
        crawl.status = "FAILED" if getattr(crawl, "_error", None) else "COMPLETED"
        crawl.end_time = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        crawl._emulated_running = False


class CrawlError(Exception):
    pass


def _crawl_target(
    crawler: FakeCrawler,
    target: dict,
    level: int | str | None,
    s3: BaseClient,
    glue: BaseClient,
    say: Callable[[str], None],
) -> None:
    path = target["Path"]
    if not path.startswith("s3://"):
        raise CrawlError(f"S3 target {path!r} is not an s3:// path")
    bucket, _, prefix = path[len("s3://") :].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    exclusions = [_glob(p) for p in target.get("Exclusions") or []]
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            if item["Key"].endswith("/") or any(e.match(relative) for e in exclusions):
                continue
            keys.append(item["Key"])
    say(f"Crawled s3://{bucket}/{prefix}: {len(keys)} file(s) after exclusions")
    # Group files by table root.
    roots: dict[str, list[str]] = {}
    for key in keys:
        if level:
            parts = key.split("/")
            depth = int(level) - 1  # level 1 is the bucket
            if len(parts) <= depth:
                continue
            root = "/".join(parts[:depth]) + "/"
        else:
            root = prefix
        roots.setdefault(root, []).append(key)
    for root, files in roots.items():
        folder = root.rstrip("/").rsplit("/", 1)[-1] or bucket
        name = _table_name(crawler.table_prefix, folder)
        _table(crawler, glue, s3, bucket, root, name, sorted(files), say)


def _partition_of(root: str, key: str) -> list[tuple[str, str]]:
    folders = key[len(root) :].split("/")[:-1]
    return [
        (f.split("=", 1)[0], f.split("=", 1)[1]) if "=" in f else (f"partition_{i}", f) for i, f in enumerate(folders)
    ]


def _table(
    crawler: FakeCrawler,
    glue: BaseClient,
    s3: BaseClient,
    bucket: str,
    root: str,
    name: str,
    files: list[str],
    say: Callable[[str], None],
) -> None:
    database = crawler.database_name
    layout = {tuple(k for k, _ in _partition_of(root, f)) for f in files}
    if len(layout) > 1:
        raise CrawlError(
            f"s3://{bucket}/{root}: files sit at different partition depths {sorted(layout)}; the emulator builds one table per root"
        )
    keys = list(next(iter(layout)))
    try:
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
        say(f"Table {database}.{name} exists; its schema is kept")
    except glue.exceptions.EntityNotFoundException:
        columns, storage = _infer(s3, bucket, files[0])
        storage["Location"] = f"s3://{bucket}/{root}"
        storage["Columns"] = columns
        table_input = {
            "Name": name,
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": storage.pop("_classification"),
                "UPDATED_BY_CRAWLER": crawler.name,
                "CrawlerSchemaSerializerVersion": "1.0",
            },
        }
        glue.create_table(DatabaseName=database, TableInput=table_input)
        say(f"Created table {name} in database {database}")
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
    table_keys = [k["Name"] for k in table.get("PartitionKeys", [])]
    if not table_keys:
        return
    if table_keys != keys:
        raise CrawlError(
            f"table {database}.{name} is partitioned by {table_keys}, the files under s3://{bucket}/{root} by {keys}"
        )
    folders = {tuple(v for _, v in _partition_of(root, f)): f[len(root) :].rsplit("/", 1)[0] + "/" for f in files}
    found = set(folders)
    existing = set()
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name):
        existing.update(tuple(p["Values"]) for p in page["Partitions"])
    missing = sorted(found - existing)
    sd = table["StorageDescriptor"]
    for start in range(0, len(missing), 100):
        inputs = []
        for values in missing[start : start + 100]:
            location = f"s3://{bucket}/{root}{folders[values]}"
            inputs.append(
                {
                    "Values": list(values),
                    "StorageDescriptor": {**{k: v for k, v in sd.items() if k != "Location"}, "Location": location},
                }
            )
        answer = glue.batch_create_partition(DatabaseName=database, TableName=name, PartitionInputList=inputs)
        if answer.get("Errors"):
            raise CrawlError(f"table {database}.{name}: partitions refused: {answer['Errors'][:3]}")
    say(f"Table {database}.{name}: {len(missing)} partition(s) added, {len(existing & found)} already present")


def _glue_type(value: Any) -> str:  # a value of a JSON record
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "struct<" + ",".join(f"{k}:{_glue_type(v)}" for k, v in value.items()) + ">"
    if isinstance(value, list):
        return f"array<{_glue_type(value[0]) if value else 'string'}>"
    return "string"


def _infer(s3: BaseClient, bucket: str, key: str) -> tuple[list[dict], dict]:
    """Columns and storage of a new table, from its first file."""
    base = key[:-3] if key.endswith(".gz") else key
    if base.endswith(".parquet"):
        import pyarrow.parquet as pq

        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        schema = pq.read_schema(io.BytesIO(body))
        columns = [{"Name": f.name, "Type": _arrow_type(f.type)} for f in schema]
        return columns, {
            "InputFormat": PARQUET_IN,
            "OutputFormat": PARQUET_OUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
            "_classification": "parquet",
        }
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
    if key.endswith(".gz"):
        body = _gunzip_prefix(body)
    text = body.decode("utf-8", errors="replace")
    if base.endswith(".csv"):
        header = text.splitlines()[0] if text else ""
        columns = [{"Name": c.strip().strip('"').lower(), "Type": "string"} for c in header.split(",") if c.strip()]
        return columns, {
            "InputFormat": TEXT_IN,
            "OutputFormat": HIVE_OUT,
            "SerdeInfo": {
                "SerializationLibrary": CSV_SERDE,
                "Parameters": {"field.delim": ",", "skip.header.line.count": "1"},
            },
            "_classification": "csv",
        }
    columns: dict[str, str] = {}
    lines = text.splitlines()
    if len(body) >= SAMPLE_BYTES:
        lines = lines[:-1]  # the sample may end mid-record
    objects = 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            objects += 1
            for field, value in record.items():
                if value is not None:
                    columns.setdefault(field.lower(), _glue_type(value))
    if not objects:
        raise CrawlError(
            f"s3://{bucket}/{key}: no JSON object found to infer a schema from (the emulator classifies JSON lines, CSV and Parquet)"
        )
    return [{"Name": n, "Type": t} for n, t in columns.items()], {
        "InputFormat": TEXT_IN,
        "OutputFormat": HIVE_OUT,
        "SerdeInfo": {"SerializationLibrary": JSON_SERDE},
        "_classification": "json",
    }


def _gunzip_prefix(data: bytes) -> bytes:
    import zlib

    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, SAMPLE_BYTES)


def _arrow_type(arrow: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_integer(arrow):
        return "bigint" if arrow.bit_width > 32 else "int"
    if pa.types.is_floating(arrow):
        return "double" if arrow.bit_width > 32 else "float"
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_struct(arrow):
        return "struct<" + ",".join(f"{f.name}:{_arrow_type(f.type)}" for f in arrow) + ">"
    if pa.types.is_list(arrow):
        return f"array<{_arrow_type(arrow.value_type)}>"
    if pa.types.is_binary(arrow):
        return "binary"
    return "string"


def _write_log(crawler: FakeCrawler, messages: list[str]) -> None:
    from moto.logs.models import logs_backends

    try:
        logs = logs_backends[crawler.backend.account_id][crawler.backend.region_name]
        group, stream = "/aws-glue/crawlers", crawler.name
        if group not in logs.groups:
            logs.create_log_group(group, {})
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now, "message": m} for m in messages])
    except Exception:  # noqa: BLE001 - a log write never fails the crawl (this runs before its status is set)
        LOG.exception("crawler %s: could not write its log", crawler.name)
