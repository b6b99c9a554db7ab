"""
Firehose: delivery streams read their Kinesis source and deliver to S3 as Firehose does.

moto 5.2.1 writes each PutRecord(Batch) to S3 at once, as one object under Prefix + YYYY/MM/DD/HH,
with no buffering, processing, dynamic partitioning (`!{partitionKeyFromQuery:…}` stays literal),
compression or encryption, and it never reads a Kinesis source. Here each extended-S3 delivery
stream runs as Firehose runs it:
  * a KinesisStreamAsSource stream reads every shard of its source about once a second, with the
    source RoleARN's credentials (STS AssumeRole), from the delivery stream's creation time on
    (Firehose starts at the stream's LATEST position when it is created); PutRecord(Batch) to it
    is refused as AWS refuses it. A DirectPut stream buffers what PutRecord(Batch) sends instead.
  * Records are buffered and delivered when the buffer holds BufferingHints.SizeInMBs or has waited
    IntervalInSeconds, both scaled by EMULATOR_SCALE (default 0.01: 300 s → 3 s, 64 MB → 0.64 MB);
    with dynamic partitioning, one object per partition of the flushed buffer.
  * Processors: MetadataExtraction runs its MetadataExtractionQuery with jq (`jq` on PATH: Debian's
    jq 1.6 is the JQ-1.6 engine Firehose names; `apt-get install jq`), once per record, which must
    give one object of partition keys; AppendDelimiterToRecord appends its Delimiter (escapes
    decoded). A Lambda processor, RecordDeAggregation, and Parquet/ORC format conversion are not
    executed: those records go to the error prefix (processing-failed / format-conversion-failed)
    with a message saying so.
  * Prefix expressions: !{partitionKeyFromQuery:k}, !{timestamp:<Java date pattern>} (the oldest
    record's arrival time, UTC), !{firehose:random-string}, and in ErrorOutputPrefix
    !{firehose:error-output-type}. A Prefix without expressions and without dynamic partitioning
    gets Firehose's default YYYY/MM/DD/HH/. Objects are named
    <stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><FileExtension, else .gz for GZIP>.
  * A record that is not JSON, whose query fails, or lacks a key the prefix names goes to
    ErrorOutputPrefix as Firehose's error record (attemptsMade, arrivalTimestamp, errorCode,
    errorMessage, rawData base64), under error-output-type partitioning-failed.
  * CompressionFormat GZIP, ZIP or UNCOMPRESSED (Snappy fails the delivery in the log); objects
    are written with the role's credentials, SSE-KMS with EncryptionConfiguration's key.
  * A delivery S3 refuses is retried every interval (Firehose retries for a day), in the log.
Written for moto 5.2.1.
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import gzip
import io
import json
import re
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from typing import TYPE_CHECKING, Any

from . import LOG, assume_role, backends, client, every, require_moto, scale

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from moto.firehose.models import DeliveryStream, FirehoseBackend

POLL_SECONDS = 1.0
_workers: dict[str, threading.Thread] = {}
_buffers: dict[str, "Buffer"] = {}
_buffers_lock = threading.Lock()


def register() -> None:
    require_moto("firehose", "5.2.1")
    from moto.firehose.exceptions import InvalidArgumentException
    from moto.firehose.models import FirehoseBackend

    original = FirehoseBackend.put_record_batch

    def put_record_batch(
        self: FirehoseBackend, delivery_stream_name: str, records: list[dict[str, bytes]]
    ) -> dict[str, Any]:
        stream = self.delivery_streams.get(delivery_stream_name)
        if stream is None or not _extended_s3(stream):
            return original(self, delivery_stream_name, records)
        if stream.delivery_stream_type == "KinesisStreamAsSource":
            raise InvalidArgumentException(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type."
            )
        now = time.time()
        _buffer(stream).add([(r["Data"], now) for r in records])
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": uuid.uuid4().hex} for _ in records],
        }

    FirehoseBackend.put_record_batch = put_record_batch
    if shutil.which("jq") is None:
        LOG.warning(
            "firehose: jq is not installed (Debian: apt-get install jq); records of streams with a MetadataExtraction query will go to their error prefix"
        )
    every(POLL_SECONDS / 2, "firehose", _supervise)


def _extended_s3(stream: DeliveryStream) -> dict | None:
    for destination in stream.destinations:
        if "ExtendedS3" in destination:
            return destination["ExtendedS3"]
    return None


class Buffer:
    def __init__(self, stream: DeliveryStream) -> None:
        self.stream = stream
        self.records: list[tuple[bytes, float]] = []
        self.lock = threading.Lock()
        self.first_at: float | None = None
        self.retry: list[tuple[bytes, float]] = []

    def add(self, records: list[tuple[bytes, float]]) -> None:
        with self.lock:
            if records and self.first_at is None:
                self.first_at = time.monotonic()
            self.records.extend(records)

    def take_if_due(self, force: bool = False) -> list[tuple[bytes, float]]:
        config = _extended_s3(self.stream) or {}
        hints = config.get("BufferingHints") or {}
        size = float(hints.get("SizeInMBs", 5)) * 1024 * 1024 * scale()
        interval = float(hints.get("IntervalInSeconds", 300)) * scale()
        with self.lock:
            if not self.records:
                return []
            held = sum(len(d) for d, _ in self.records)
            if force or held >= size or time.monotonic() - (self.first_at or 0) >= interval:
                taken, self.records, self.first_at = self.records, [], None
                return taken
            return []


def _buffer(stream: DeliveryStream) -> Buffer:
    with _buffers_lock:
        key = f"{stream.delivery_stream_arn}@{stream.create_timestamp.isoformat()}"
        if key not in _buffers:
            _buffers[key] = Buffer(stream)
        return _buffers[key]


def _supervise() -> None:
    from moto.firehose.models import firehose_backends

    live = set()
    for _account, _region, backend in backends(firehose_backends):
        for stream in list(backend.delivery_streams.values()):
            if not _extended_s3(stream):
                continue
            key = f"{stream.delivery_stream_arn}@{stream.create_timestamp.isoformat()}"
            live.add(key)
            if key not in _workers or not _workers[key].is_alive():
                worker = threading.Thread(
                    target=_run,
                    args=(backend, stream, key),
                    name=f"firehose-{stream.delivery_stream_name}",
                    daemon=True,
                )
                _workers[key] = worker
                worker.start()
    with _buffers_lock:
        for key in [k for k in _buffers if k not in live]:
            del _buffers[key]


def _alive(backend: FirehoseBackend, stream: DeliveryStream) -> bool:
    return backend.delivery_streams.get(stream.delivery_stream_name) is stream


def _run(backend: FirehoseBackend, stream: DeliveryStream, key: str) -> None:
    buffer = _buffer(stream)
    reader = _KinesisReader(stream) if stream.delivery_stream_type == "KinesisStreamAsSource" else None
    try:
        while _alive(backend, stream):
            if reader is not None:
                try:
                    buffer.add(reader.poll())
                except Exception as error:  # noqa: BLE001 - the reader keeps its shard positions through any failure; retried next poll
                    LOG.error(
                        "firehose %s: reading %s failed: %s",
                        stream.delivery_stream_name,
                        stream.source.get("KinesisStreamARN"),
                        error,
                    )
            records = buffer.take_if_due()
            if records:
                try:
                    deliver(stream, records)
                except Exception as error:  # noqa: BLE001 - Firehose keeps the records and retries
                    LOG.error(
                        "firehose %s: delivery of %d record(s) failed, retried next interval: %s",
                        stream.delivery_stream_name,
                        len(records),
                        error,
                    )
                    buffer.add(records)
            time.sleep(POLL_SECONDS)
    finally:
        _workers.pop(key, None)


class _KinesisReader:
    def __init__(self, stream: DeliveryStream) -> None:
        self.stream = stream
        source = stream.source or {}
        self.arn, self.role = source["KinesisStreamARN"], source["RoleARN"]
        _, _, _, self.region, self.account, resource = self.arn.split(":")
        self.name = resource.split("/", 1)[1]
        self.iterators: dict[str, str | None] = {}
        self.client = None
        self.credentials_at = 0.0

    def _kinesis(self) -> BaseClient:
        if self.client is None or time.monotonic() - self.credentials_at > 900:
            self.client = client(
                "kinesis",
                self.account,
                self.region,
                assume_role(self.role, f"firehose-{self.stream.delivery_stream_name}"),
            )
            self.credentials_at = time.monotonic()
        return self.client

    def poll(self) -> list[tuple[bytes, float]]:
        kinesis = self._kinesis()
        shards = kinesis.list_shards(StreamARN=self.arn)["Shards"]
        out = []
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                created = self.stream.create_timestamp.replace(tzinfo=dt.timezone.utc)
                self.iterators[shard_id] = kinesis.get_shard_iterator(
                    StreamARN=self.arn, ShardId=shard_id, ShardIteratorType="AT_TIMESTAMP", Timestamp=created
                )["ShardIterator"]
            iterator = self.iterators[shard_id]
            if iterator is None:
                continue  # a closed shard, read to its end
            answer = kinesis.get_records(StreamARN=self.arn, ShardIterator=iterator, Limit=10000)
            self.iterators[shard_id] = answer.get("NextShardIterator")
            for record in answer["Records"]:
                arrival = record["ApproximateArrivalTimestamp"]
                out.append((record["Data"], arrival.timestamp() if hasattr(arrival, "timestamp") else float(arrival)))
        return out


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------
_EXPRESSION = re.compile(r"!\{([a-zA-Z]+):([^}]*)\}")
_JAVA_PATTERN = [("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]


def _java_date(pattern: str, when: dt.datetime) -> str:
    out, i = [], 0
    while i < len(pattern):
        for java, python in _JAVA_PATTERN:
            if pattern.startswith(java, i):
                out.append(when.strftime(python))
                i += len(java)
                break
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


class RecordError(Exception):
    def __init__(self, code: str, message: str, output_type: str = "partitioning-failed"):
        super().__init__(message)
        self.code, self.message, self.output_type = code, message, output_type


def render_prefix(template: str, keys: dict, oldest: dt.datetime, error_type: str | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        namespace, name = match.group(1), match.group(2)
        if namespace == "partitionKeyFromQuery":
            if name not in keys or keys[name] is None:
                raise RecordError(
                    "DynamicPartitioning.MetadataExtractionFailed",
                    f"the query gave no value for partition key {name!r}",
                )
            return str(keys[name])
        if namespace == "timestamp":
            return _java_date(name, oldest)
        if namespace == "firehose" and name == "random-string":
            return uuid.uuid4().hex[:11]
        if namespace == "firehose" and name == "error-output-type" and error_type:
            return error_type
        raise RecordError(
            "S3.InvalidPrefix",
            f"prefix expression !{{{namespace}:{name}}} is not evaluated by the emulator",
            "processing-failed",
        )

    return _EXPRESSION.sub(value, template)


def _processors(config: dict) -> list[dict]:
    processing = config.get("ProcessingConfiguration") or {}
    if not processing.get("Enabled"):
        return []
    return [
        {"Type": p["Type"], **{q["ParameterName"]: q["ParameterValue"] for q in p.get("Parameters", [])}}
        for p in processing.get("Processors", [])
    ]


def run_jq(query: str, documents: list) -> list:
    """`query` over each document: one result each, or a RecordError for that document."""
    jq = shutil.which("jq")
    if jq is None:
        raise RecordError(
            "DynamicPartitioning.MetadataExtractionFailed",
            "the emulator evaluates MetadataExtractionQuery with jq, which is not installed (Debian: apt-get install jq)",
        )
    program = f"try ([{query}] | {{ok: .}}) catch {{error: (. | tostring)}}"
    feed = "".join(json.dumps(d) + "\n" for d in documents).encode()
    result = subprocess.run([jq, "-c", program], input=feed, capture_output=True, timeout=60)
    if result.returncode != 0:
        raise RecordError(
            "DynamicPartitioning.MetadataExtractionFailed",
            f"MetadataExtractionQuery {query!r} does not compile: {result.stderr.decode().strip()}",
        )
    out = []
    for line in result.stdout.decode().splitlines():
        answer = json.loads(line)
        if "error" in answer:
            out.append(RecordError("DynamicPartitioning.MetadataExtractionFailed", f"jq: {answer['error']}"))
        elif len(answer["ok"]) != 1 or not isinstance(answer["ok"][0], dict):
            out.append(
                RecordError(
                    "DynamicPartitioning.MetadataExtractionFailed",
                    f"the query must give one JSON object per record (got {json.dumps(answer['ok'])[:200]})",
                )
            )
        else:
            out.append(answer["ok"][0])
    return out


def _compress(data: bytes, fmt: str, name: str) -> bytes:
    if fmt in ("UNCOMPRESSED", None, ""):
        return data
    if fmt == "GZIP":
        return gzip.compress(data, mtime=0)
    if fmt == "ZIP":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, data)
        return buffer.getvalue()
    raise RuntimeError(f"CompressionFormat {fmt} is not written by the emulator (GZIP, ZIP, UNCOMPRESSED)")


def deliver(stream: DeliveryStream, records: list[tuple[bytes, float]]) -> list[str]:
    """Process, partition, compress and write one flushed buffer; the keys written."""
    config = _extended_s3(stream)
    processors = _processors(config)
    dynamic = bool((config.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
    groups: dict[str, list[tuple[bytes, float]]] = {}
    failures: dict[str, list[tuple[bytes, float, RecordError]]] = {}

    def fail(data: bytes, arrival: float, error: RecordError) -> None:
        failures.setdefault(error.output_type, []).append((data, arrival, error))

    conversion = (config.get("DataFormatConversionConfiguration") or {}).get("Enabled")
    unsupported = [p["Type"] for p in processors if p["Type"] not in ("MetadataExtraction", "AppendDelimiterToRecord")]
    query = next((p.get("MetadataExtractionQuery") for p in processors if p["Type"] == "MetadataExtraction"), None)
    delimiter = next(
        (
            codecs.decode(p.get("Delimiter", ""), "unicode_escape").encode()
            for p in processors
            if p["Type"] == "AppendDelimiterToRecord"
        ),
        b"",
    )
    pending = list(records)
    if conversion:
        for data, arrival in pending:
            fail(
                data,
                arrival,
                RecordError(
                    "DataFormatConversion.NotExecuted",
                    "the emulator does not convert to Parquet/ORC (DataFormatConversionConfiguration)",
                    "format-conversion-failed",
                ),
            )
        pending = []
    if unsupported:
        for data, arrival in pending:
            fail(
                data,
                arrival,
                RecordError(
                    "Processor.NotExecuted", f"the emulator does not run processors {unsupported}", "processing-failed"
                ),
            )
        pending = []
    keyed: list[tuple[bytes, float, dict]] = []
    if query and pending:
        parsed, valid = [], []
        for data, arrival in pending:
            try:
                parsed.append(json.loads(data))
                valid.append((data, arrival))
            except ValueError as error:
                fail(
                    data,
                    arrival,
                    RecordError("DynamicPartitioning.MetadataExtractionFailed", f"the record is not JSON: {error}"),
                )
        try:
            results = run_jq(query, parsed) if parsed else []
        except RecordError as error:
            results = [error] * len(valid)
        for (data, arrival), result in zip(valid, results):
            if isinstance(result, RecordError):
                fail(data, arrival, result)
            else:
                keyed.append((data, arrival, result))
    else:
        keyed = [(d, a, {}) for d, a in pending]

    prefix_template = config.get("Prefix", "") or ""
    if not dynamic and not _EXPRESSION.search(prefix_template):
        prefix_template += "!{timestamp:yyyy/MM/dd/HH}/"
    oldest = dt.datetime.fromtimestamp(min((a for _, a in records), default=time.time()), dt.timezone.utc)
    for data, arrival, keys in keyed:
        try:
            prefix = render_prefix(prefix_template, keys if dynamic else {}, oldest)
        except RecordError as error:
            fail(data, arrival, error)
            continue
        groups.setdefault(prefix, []).append((data + delimiter, arrival))

    written = []
    for prefix, items in groups.items():
        written.append(_put(stream, config, prefix, b"".join(d for d, _ in items)))
    error_template = config.get("ErrorOutputPrefix") or "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    for output_type, items in failures.items():
        now_ms = int(time.time() * 1000)
        lines = [
            json.dumps(
                {
                    "attemptsMade": 1,
                    "arrivalTimestamp": int(a * 1000),
                    "errorCode": e.code,
                    "errorMessage": e.message,
                    "attemptEndingTimestamp": now_ms,
                    "rawData": base64.b64encode(d).decode(),
                }
            ).encode()
            + b"\n"
            for d, a, e in items
        ]
        prefix = render_prefix(error_template, {}, oldest, output_type)
        written.append(_put(stream, config, prefix, b"".join(lines)))
        LOG.warning(
            "firehose %s: %d record(s) to the error prefix (%s): %s",
            stream.delivery_stream_name,
            len(items),
            output_type,
            items[0][2].message,
        )
    LOG.info(
        "firehose %s: %d record(s) delivered in %d object(s)", stream.delivery_stream_name, len(records), len(written)
    )
    return written


def _put(stream: DeliveryStream, config: dict, prefix: str, body: bytes) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    fmt = config.get("CompressionFormat", "UNCOMPRESSED")
    extension = config.get("FileExtension") or {"GZIP": ".gz", "ZIP": ".zip"}.get(fmt, "")
    base = f"{stream.delivery_stream_name}-{stream.version_id}-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
    key = f"{prefix}{base}{extension}"
    data = _compress(body, fmt, base)
    bucket = config["BucketARN"].split(":")[-1]
    account, region = stream.delivery_stream_arn.split(":")[4], stream.delivery_stream_arn.split(":")[3]
    s3 = client("s3", account, region, assume_role(config["RoleARN"], f"firehose-{stream.delivery_stream_name}"))
    extra = {}
    kms = ((config.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}).get("AWSKMSKeyARN")
    if kms:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms}
    s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    return key
