"""DynamoDB table exports as AWS writes them: full exports at a point in time, and incremental exports.

What moto lacks (written for moto 5.2.1): ExportTableToPointInTime ignores `ExportTime` and
`IncrementalExportSpecification` — an `INCREMENTAL_EXPORT` is a full dump of the table as it is
now — and it writes one data file without the manifest files, keeps no history of item changes to
export a window from, and gives exports an ARN under `.../import/...`.

What this does:
  * Records every item write (PutItem, UpdateItem, DeleteItem, and BatchWriteItem and
    TransactWriteItems, which go through them; a transaction that fails is not recorded) with its
    time in microseconds and the item's images before and after.
  * FULL_EXPORT at `ExportTime` (default now): the table as it was just before that time, one
    `{"Item": {...}}` line per item.
  * INCREMENTAL_EXPORT over [ExportFromTime, ExportToTime) (default to: now): one line per item that
    changed in the window, with the window's net change, in AWS's incremental format:
      {"Metadata": {"WriteTimestampMicros": {"N": "<last write in the window>"}},
       "Keys": {...}, "OldImage": {...}, "NewImage": {...}}
    `OldImage` is the item as it was at the window's start (NEW_AND_OLD_IMAGES only; absent for an
    item created in the window); `NewImage` is the item at the window's end, absent when it was
    deleted. An item created and deleted within the window is not exported (no net change).
    AWS's rules are enforced: the window is at least 15 minutes and at most 24 hours, its end is not
    in the future, and point-in-time recovery is on. The 15-minute floor can be lowered for tests
    with the environment variable DATAPLAT_EMULATOR_MIN_INCREMENTAL_EXPORT_SECONDS (the emulator
    process's own environment); nothing else is relaxed.
  * Writes `<prefix>/AWSDynamoDB/<export id>/` as AWS does: `_started`, `data/<id>.json.gz`,
    `manifest-files.json` (one line per data file: itemCount, md5Checksum, etag, dataFileS3Key),
    `manifest-summary.json` (exportArn, exportType, exportTime or exportFromTime/exportToTime,
    outputView, itemCount, manifestFilesS3Key, …) and their `.checksum` files (md5 hex), with the
    request's S3SseAlgorithm/S3SseKmsKeyId.
  * DescribeExport and ListExports return the AWS fields (ExportTime, ExportType,
    IncrementalExportSpecification, ExportManifest, ItemCount, StartTime, EndTime), with the ARN
    `<table arn>/export/<export id>`.

Exports complete within the request (AWS takes minutes); callers poll DescribeExport either way.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import json
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

MOTO_VERSION = "5.2.1"
MAX_WINDOW = dt.timedelta(hours=24)
MIN_WINDOW_SECONDS = 15 * 60
UTC = dt.timezone.utc

_lock = threading.RLock()
#: Change log per table (ARN and creation time: a failed transaction replaces the table object by a
#: copy, and a table deleted and created again is another table): [(micros, key, keys, old image, new image)].
_changes: dict[tuple[str, Any], list[tuple[int, str, dict, Optional[dict], Optional[dict]]]] = {}
#: Exports per ARN.
_exports: dict[str, dict[str, Any]] = {}
_last_micros = 0


def _now_micros() -> int:
    """Strictly increasing: two writes never share a timestamp, so their order is kept."""
    global _last_micros
    with _lock:
        _last_micros = max(_last_micros + 1, time.time_ns() // 1000)
        return _last_micros


def _table_id(table: Any) -> tuple[str, Any]:
    return (table.table_arn, table.created_at)


def _image(item: Any) -> Optional[dict]:
    if item is None:
        return None
    from moto.dynamodb.models.utilities import dynamo_json_dump

    return json.loads(dynamo_json_dump(item.to_json()["Attributes"]))


def _keys_of(table: Any, image: dict) -> dict:
    keys = {table.hash_key_attr: image[table.hash_key_attr]}
    if table.range_key_attr:
        keys[table.range_key_attr] = image[table.range_key_attr]
    return keys


def _current(backend: Any, table: Any, keys: dict) -> Optional[dict]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(keys[table.hash_key_attr])
    range_value = (
        DynamoType(keys[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in keys else None
    )
    try:
        return _image(table.get_item(hash_value, range_value))
    except Exception:  # noqa: BLE001 - an invalid key: the write itself will fail and be reported
        return None


def _record_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    def wrap(name: str, keys_from: Callable[[Table, tuple[Any, ...], dict[str, Any]], Optional[dict]]) -> None:
        original = getattr(DynamoDBBackend, name)

        def method(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Optional[Item]:
            table = self.get_table(table_name)
            keys = keys_from(table, args, kwargs)
            before = _current(self, table, keys) if keys else None
            result = original(self, table_name, *args, **kwargs)
            after = _current(self, table, keys) if keys else None
            if before != after:
                key = json.dumps(keys, sort_keys=True)
                with _lock:
                    _changes.setdefault(_table_id(table), []).append(
                        (_now_micros(), key, keys, copy.deepcopy(before), copy.deepcopy(after))
                    )
            return result

        setattr(DynamoDBBackend, name, method)

    def put_keys(table: Table, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[dict]:
        attrs = args[0] if args else kwargs.get("item_attrs")
        return _keys_of(table, attrs) if attrs and table.hash_key_attr in attrs else None

    def key_arg(table: Table, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[dict]:
        return args[0] if args else kwargs.get("key") or kwargs.get("keys")

    wrap("put_item", put_keys)
    wrap("update_item", key_arg)
    wrap("delete_item", key_arg)

    original_transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            marks = {k: len(v) for k, v in _changes.items()}
            try:
                return original_transact(self, transact_items)
            except Exception:
                # The transaction was rolled back: so are the changes it recorded.
                for k in list(_changes):
                    del _changes[k][marks.get(k, 0) :]
                raise

    DynamoDBBackend.transact_write_items = transact_write_items


def _state_at(changes: list, micros: int, initial: dict[str, dict]) -> dict[str, tuple[dict, dict]]:
    """key → (keys, image) of every item as it was just before `micros`."""
    state = {k: (_keys_from_key(k), v) for k, v in initial.items()}
    for ts, key, keys, _old, new in changes:
        if ts >= micros:
            break
        if new is None:
            state.pop(key, None)
        else:
            state[key] = (keys, new)
    return state


def _keys_from_key(key: str) -> dict:
    return json.loads(key)


def _to_datetime(value: Any, field: str) -> dt.datetime:
    from moto.dynamodb.exceptions import MockValidationException

    if isinstance(value, dt.datetime):  # moto's request parser has already read the timestamp (naive: UTC)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return dt.datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError):
        raise MockValidationException(f"{field} must be a timestamp (got {value!r})") from None


def _min_window_seconds() -> int:
    return int(os.environ.get("DATAPLAT_EMULATOR_MIN_INCREMENTAL_EXPORT_SECONDS", MIN_WINDOW_SECONDS))


def _micros(t: dt.datetime) -> int:
    return int(round(t.timestamp() * 1_000_000))


def _export(backend: Any, body: dict) -> dict[str, Any]:
    from moto.dynamodb.exceptions import MockValidationException, PointInTimeRecoveryUnavailable, TableNotFoundException
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    table_arn = body["TableArn"]
    table = next((t for t in backend.tables.values() if t.table_arn == table_arn), None)
    if table is None:
        raise TableNotFoundException(name=table_arn)
    if table.continuous_backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] != "ENABLED":
        raise PointInTimeRecoveryUnavailable(name=table_arn.split("/")[-1])
    export_type = body.get("ExportType", "FULL_EXPORT")
    export_format = body.get("ExportFormat", "DYNAMODB_JSON")
    if export_format != "DYNAMODB_JSON":
        raise MockValidationException(
            f"ExportFormat {export_format} is not served by the emulator (DYNAMODB_JSON only)"
        )
    now = dt.datetime.now(UTC)
    with _lock:
        changes = list(_changes.get(_table_id(table), []))
    # Items that existed before the emulator recorded anything (none, unless imported) count as initial state.
    recorded = {key for _, key, *_ in changes}
    initial = {
        k: v
        for k, v in (
            (json.dumps(_keys_of(table, img), sort_keys=True), img) for img in (_image(i) for i in table.all_items())
        )
        if k not in recorded
    }
    lines: list[dict] = []
    description: dict[str, Any] = {"ExportType": export_type, "ExportFormat": export_format}
    if export_type == "FULL_EXPORT":
        if body.get("IncrementalExportSpecification"):
            raise MockValidationException("IncrementalExportSpecification is only for ExportType INCREMENTAL_EXPORT")
        at = _to_datetime(body["ExportTime"], "ExportTime") if body.get("ExportTime") is not None else now
        if at > now:
            raise MockValidationException("ExportTime must not be in the future")
        # "Now" includes every write already answered (their stamps may run a few µs ahead of the clock).
        state = _state_at(
            changes, _micros(at) if body.get("ExportTime") is not None else max(_micros(at), _last_micros + 1), initial
        )
        lines = [{"Item": image} for _, (_keys, image) in sorted(state.items())]
        description["ExportTime"] = at
    elif export_type == "INCREMENTAL_EXPORT":
        spec = body.get("IncrementalExportSpecification") or {}
        if body.get("ExportTime") is not None:
            raise MockValidationException(
                "ExportTime is only for ExportType FULL_EXPORT; an incremental export takes IncrementalExportSpecification"
            )
        if spec.get("ExportFromTime") is None:
            raise MockValidationException(
                "IncrementalExportSpecification.ExportFromTime is required for an incremental export"
            )
        start = _to_datetime(spec["ExportFromTime"], "ExportFromTime")
        end = _to_datetime(spec["ExportToTime"], "ExportToTime") if spec.get("ExportToTime") is not None else now
        view = spec.get("ExportViewType", "NEW_AND_OLD_IMAGES")
        if view not in ("NEW_AND_OLD_IMAGES", "NEW_IMAGE"):
            raise MockValidationException(f"ExportViewType must be NEW_AND_OLD_IMAGES or NEW_IMAGE (got {view})")
        if end > now:
            raise MockValidationException("ExportToTime must not be in the future")
        if end <= start:
            raise MockValidationException("ExportFromTime must be before ExportToTime")
        if (end - start).total_seconds() < _min_window_seconds():
            floor = _min_window_seconds()
            raise MockValidationException(
                f"the export period must be at least {f'{floor // 60} minutes' if floor % 60 == 0 else f'{floor} seconds'} "
                f"(got {(end - start).total_seconds():.0f} s)"
            )
        if end - start > MAX_WINDOW:
            raise MockValidationException("the export period must be at most 24 hours")
        lo, hi = _micros(start), _micros(end)
        before = _state_at(changes, lo, initial)
        after = _state_at(changes, hi, initial)
        last: dict[str, int] = {}
        for ts, key, *_ in changes:
            if lo <= ts < hi:
                last[key] = ts
        for key in sorted(last):
            old = before.get(key, (None, None))[1]
            new = after.get(key, (None, None))[1]
            if old is None and new is None:
                continue  # created and deleted within the window: no net change
            line: dict[str, Any] = {
                "Metadata": {"WriteTimestampMicros": {"N": str(last[key])}},
                "Keys": _keys_from_key(key),
            }
            if old is not None and view == "NEW_AND_OLD_IMAGES":
                line["OldImage"] = old
            if new is not None:
                line["NewImage"] = new
            lines.append(line)
        description["IncrementalExportSpecification"] = {
            "ExportFromTime": start,
            "ExportToTime": end,
            "ExportViewType": view,
        }
    else:
        raise MockValidationException(f"ExportType must be FULL_EXPORT or INCREMENTAL_EXPORT (got {export_type})")

    account = body.get("S3BucketOwner") or backend.account_id
    s3 = s3_backends[account][get_partition(backend.region_name)]
    bucket = body["S3Bucket"]
    if bucket not in s3.buckets:
        raise MockValidationException(f"S3 bucket {bucket} does not exist")
    export_id = f"{int(now.timestamp() * 1000):014d}-{uuid.uuid4().hex[:8]}"
    prefix = (body.get("S3Prefix") or "").rstrip("/")
    root = f"{prefix}/AWSDynamoDB/{export_id}" if prefix else f"AWSDynamoDB/{export_id}"
    sse = {
        "encryption": body.get("S3SseAlgorithm") == "KMS" and "aws:kms" or None,
        "kms_key_id": body.get("S3SseKmsKeyId"),
    }

    def put(key: str, data: bytes) -> Any:
        return s3.put_object(bucket, key, data, **{k: v for k, v in sse.items() if v})

    put(f"{root}/_started", b"")
    data_key = f"{root}/data/{uuid.uuid4().hex[:26]}.json.gz"
    content = gzip.compress("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode("utf-8"))
    stored = put(data_key, content)
    files_line = {
        "itemCount": len(lines),
        "md5Checksum": hashlib.md5(content).hexdigest(),
        "etag": getattr(stored, "etag", "").strip('"'),
        "dataFileS3Key": data_key,
    }
    manifest_files = (json.dumps(files_line) + "\n").encode("utf-8")
    put(f"{root}/manifest-files.json", manifest_files)
    put(f"{root}/manifest-files.checksum", hashlib.md5(manifest_files).hexdigest().encode())
    arn = f"{table_arn}/export/{export_id}"
    end_time = dt.datetime.now(UTC)
    summary: dict[str, Any] = {
        "version": "2023-08-01" if export_type == "INCREMENTAL_EXPORT" else "2020-06-30",
        "exportArn": arn,
        "startTime": now.isoformat().replace("+00:00", "Z"),
        "endTime": end_time.isoformat().replace("+00:00", "Z"),
        "tableArn": table_arn,
        "tableId": getattr(table, "table_id", ""),
        "s3Bucket": bucket,
        "s3Prefix": body.get("S3Prefix"),
        "s3SseAlgorithm": body.get("S3SseAlgorithm", "AES256"),
        "s3SseKmsKeyId": body.get("S3SseKmsKeyId"),
        "manifestFilesS3Key": f"{root}/manifest-files.json",
        "billedSizeBytes": len(content),
        "itemCount": len(lines),
        "outputFormat": "DYNAMODB_JSON",
        "exportType": export_type,
    }
    if export_type == "FULL_EXPORT":
        summary["exportTime"] = description["ExportTime"].isoformat().replace("+00:00", "Z")
    else:
        spec_out = description["IncrementalExportSpecification"]
        summary.update(
            {
                "exportFromTime": spec_out["ExportFromTime"].isoformat().replace("+00:00", "Z"),
                "exportToTime": spec_out["ExportToTime"].isoformat().replace("+00:00", "Z"),
                "outputView": spec_out["ExportViewType"],
            }
        )
    summary_bytes = json.dumps(summary).encode("utf-8")
    put(f"{root}/manifest-summary.json", summary_bytes)
    put(f"{root}/manifest-summary.checksum", hashlib.md5(summary_bytes).hexdigest().encode())
    description.update(
        {
            "ExportArn": arn,
            "ExportStatus": "COMPLETED",
            "StartTime": now,
            "EndTime": end_time,
            "ExportManifest": f"{root}/manifest-summary.json",
            "TableArn": table_arn,
            "TableId": getattr(table, "table_id", None),
            "S3Bucket": bucket,
            "S3BucketOwner": account,
            "S3Prefix": body.get("S3Prefix"),
            "S3SseAlgorithm": body.get("S3SseAlgorithm", "AES256"),
            "ItemCount": len(lines),
            "BilledSizeBytes": len(content),
            "ClientToken": body.get("ClientToken") or uuid.uuid4().hex,
        }
    )
    if body.get("S3SseKmsKeyId"):
        description["S3SseKmsKeyId"] = body["S3SseKmsKeyId"]
    with _lock:
        _exports[arn] = description
    return description


def install() -> None:
    """Patches moto's DynamoDB export API; called once from the launcher."""
    import moto
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"scripts/emulator/services/dynamodb_exports.py was written for moto {MOTO_VERSION}; this is moto {moto.__version__}: "
            "check that moto still lacks incremental exports and that the patched methods keep their signatures, then update MOTO_VERSION"
        )
    _record_writes()

    def export_table_to_point_in_time(self: DynamoHandler) -> ActionResult:
        started = dict(_export(self.dynamodb_backend, self.body))
        started["ExportStatus"] = "IN_PROGRESS"  # as AWS answers the request; DescribeExport reports COMPLETED
        started.pop("EndTime", None)
        return ActionResult({"ExportDescription": started})

    def describe_export(self: DynamoHandler) -> ActionResult:
        from moto.dynamodb.exceptions import DynamodbException

        arn = self.body["ExportArn"]
        with _lock:
            found = _exports.get(arn)
        if found is None:
            raise DynamodbException("ExportNotFoundException", f"Export not found: {arn}")
        return ActionResult({"ExportDescription": found})

    def list_exports(self: DynamoHandler) -> ActionResult:
        table_arn = self.body.get("TableArn")
        with _lock:
            found = [e for e in _exports.values() if table_arn in (None, e["TableArn"])]
        return ActionResult(
            {
                "ExportSummaries": [
                    {"ExportArn": e["ExportArn"], "ExportStatus": e["ExportStatus"], "ExportType": e["ExportType"]}
                    for e in found
                ]
            }
        )

    DynamoHandler.export_table_to_point_in_time = export_table_to_point_in_time
    DynamoHandler.describe_export = describe_export
    DynamoHandler.list_exports = list_exports
