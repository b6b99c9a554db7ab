"""What one raw → processed run reads: the pipeline execution's manifest, parsed.

The state machine writes its execution input verbatim as the manifest, so a manifest is one of:

- a batch (EventBridge Pipe): a JSON array of `{"key": "<raw object key>"}`;
- one landing (EventBridge rule): the S3 "Object Created" event (`detail.object.key`);
- an operator's reprocess request: `{"reprocess": {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}` or
  `{"reprocess": {"all": true}}`.

Keys are object keys in the raw bucket and start with the dataset's prefix (`<dataset>/`). Every
source lays raw out by the event time's UTC day as the first path segment under that prefix
(`<dataset>/<date key>=YYYY-MM-DD/...`: the extracts, api-ingest and Firehose's dynamic
partitioning all apply the environment's partition spec), so a reprocess range maps to one folder
per day, and only those folders are listed. Records whose date could not form a path segment land
in `<date key>=__HIVE_DEFAULT_PARTITION__/`: only `{"all": true}` reads that folder.
Pure Python: importable without Spark.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Optional

#: The most days one reprocess range may name (ten years): a typo in a year fails instead of listing decades.
MAX_REPROCESS_DAYS = 3660


class ManifestError(ValueError):
    """The manifest is unusable; the message says what and where."""


@dataclass(frozen=True)
class Request:
    #: "batch", "event" or "reprocess".
    kind: str
    #: Raw object keys, in manifest order without repeats (batch, event).
    keys: tuple[str, ...] = ()
    #: Inclusive UTC day range of a reprocess request; None with `all`.
    days: Optional[tuple[str, str]] = None
    #: A reprocess of everything the dataset holds in raw.
    all: bool = False

    def day_list(self) -> list[str]:
        if self.days is None:
            return []
        first, last = (_dt.date.fromisoformat(d) for d in self.days)
        return [(first + _dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _day(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{where}: reprocess.{field} must be a YYYY-MM-DD string (got {value!r})")
    try:
        return _dt.date.fromisoformat(value).isoformat() if len(value) == 10 else _bad_day(value, field, where)
    except ValueError:
        return _bad_day(value, field, where)


def _bad_day(value: str, field: str, where: str) -> str:
    raise ManifestError(f"{where}: reprocess.{field} must be a real day as YYYY-MM-DD (got {value!r})")


def parse(text: str, where: str = "manifest") -> Request:
    """The request a manifest makes. Raises ManifestError naming the problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(f"{where}: not valid JSON ({e})") from None
    if isinstance(data, list):
        keys = []
        for i, item in enumerate(data):
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not key:
                raise ManifestError(
                    f'{where}: item {i} must be an object with a non-empty string "key" (got {json.dumps(item)[:200]})'
                )
            keys.append(key)
        return Request(kind="batch", keys=tuple(dict.fromkeys(keys)))
    if not isinstance(data, dict):
        raise ManifestError(
            f'{where}: must be a JSON array of {{"key": ...}}, an S3 Object Created event or {{"reprocess": ...}}'
        )
    if "reprocess" in data:
        r = data["reprocess"]
        if not isinstance(r, dict):
            raise ManifestError(
                f'{where}: reprocess must be {{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}} or {{"all": true}}'
            )
        if r.get("all") is True:
            if "from" in r or "to" in r:
                raise ManifestError(f"{where}: reprocess names both all and a range; give one")
            return Request(kind="reprocess", all=True)
        first, last = _day(r.get("from"), "from", where), _day(r.get("to"), "to", where)
        if first > last:
            raise ManifestError(f"{where}: reprocess.from {first} is after reprocess.to {last}")
        span = (_dt.date.fromisoformat(last) - _dt.date.fromisoformat(first)).days + 1
        if span > MAX_REPROCESS_DAYS:
            raise ManifestError(
                f'{where}: reprocess range {first}..{last} spans {span} days (at most {MAX_REPROCESS_DAYS}); use {{"all": true}} for everything'
            )
        return Request(kind="reprocess", days=(first, last))
    key = ((data.get("detail") or {}).get("object") or {}).get("key") if isinstance(data.get("detail"), dict) else None
    if isinstance(key, str) and key:
        return Request(kind="event", keys=(key,))
    raise ManifestError(f"{where}: an object without detail.object.key or reprocess: {json.dumps(data)[:200]}")


def hidden(name: str) -> bool:
    """Names Spark's file listing skips (`_SUCCESS`, `_staging`, `.crc`, ...); listing skips them too."""
    return (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")
