"""The `--dataset_contract` argument as typed Python.

The JSON is produced by `PartitionedDataset.jobContract()` in `datasets/contract.ts` (print it with
`npx tsx scripts/export-contracts.ts <env>`). The jobs read nothing else about a dataset, so the
columns, keys and partition spec here are the ones the catalog tables and Firehose were built from.

Every dataclass mirrors one JSON object of that export: its fields are the JSON's fields in
snake_case (`eventTimeColumn` → `event_time_column`), and `to_dict()` writes them back unchanged.
glue-jobs/tests/test_contract_and_args.py holds the two views in step: every exported contract of
every environment parses, and writes back to exactly the JSON it came from.
Pure Python: importable without Spark.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
SCALAR_TYPES = ("string", "int", "bigint", "double", "boolean", "date", "timestamp")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: What processed holds (`processed` of the contract; `datasets/contract.ts` documents the modes).
PROCESSED_MODES = ("current-state", "event-log")


class ContractError(ValueError):
    """The contract JSON is unusable; the message names every problem."""


def json_name(field: str) -> str:
    """The JSON name of a dataclass field: `event_time_column` → `eventTimeColumn`."""
    head, *rest = field.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _to_json(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


class _JsonView:
    """Writes a contract dataclass back as the JSON it mirrors (fields that are None are absent there)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            json_name(f.name): _to_json(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class TypedColumn(_JsonView):
    """A column of the consumer table: its name and type (`consumerColumns`)."""

    name: str
    type: str

    @property
    def decimal(self) -> Optional[tuple[int, int]]:
        """(precision, scale) of a decimal column, else None."""
        m = _DECIMAL.match(self.type)
        return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True)
class Column(TypedColumn):
    """A column of the dataset (`columns`): rows without a value of a required column are quarantined."""

    required: bool = False


@dataclass(frozen=True)
class PartitionKey(_JsonView):
    name: str
    type: str  # date | hour | enum
    column: str
    values: Optional[tuple[str, ...]] = None
    range_start: Optional[str] = None


@dataclass(frozen=True)
class Partitioning(_JsonView):
    """The environment's partition keys as this dataset derives them (`partitioning`)."""

    keys: tuple[PartitionKey, ...]


@dataclass(frozen=True)
class Measure(_JsonView):
    name: str
    fn: str  # count | sum | count_distinct
    column: Optional[str] = None
    description: Optional[str] = None


@dataclass(frozen=True)
class ConsumerView(_JsonView):
    """What the consumer zone holds (`consumer`); `name`, `group_by` and `measures` belong to an aggregate only."""

    kind: str  # curated | aggregate
    name: Optional[str] = None
    group_by: Optional[tuple[str, ...]] = None
    measures: Optional[tuple[Measure, ...]] = None


@dataclass(frozen=True)
class JobContract(_JsonView):
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    event_time_column: str
    version_column: str
    partitioning: Partitioning
    consumer: ConsumerView
    consumer_table: str
    consumer_columns: tuple[TypedColumn, ...]
    #: "current-state": the latest version per primary key; "event-log": every version, deduplicated by key and version.
    #: Default as in datasets/contract.ts: current-state when the version column is not the event time column.
    processed: str = "current-state"

    @classmethod
    def from_json(cls, text: str) -> "JobContract":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ContractError(f"dataset_contract: not valid JSON ({e})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "JobContract":
        if not isinstance(d, Mapping):
            raise ContractError("dataset_contract: must be a JSON object")
        problems: list[str] = []

        def need(key: str, kind: type, where: Mapping[str, Any] = d, label: str = "") -> Any:
            value = where.get(key)
            if not isinstance(value, kind) or (kind is str and not value):
                problems.append(
                    f"{label}{key}: must be a {'non-empty string' if kind is str else kind.__name__} (got {value!r})"
                )
                return kind()
            return value

        name = need("name", str)
        columns = tuple(_column(c, i, problems) for i, c in enumerate(need("columns", list)))
        names = [c.name for c in columns]
        pk = tuple(need("primaryKey", list))
        event_time = need("eventTimeColumn", str)
        version = need("versionColumn", str)
        partitioning = need("partitioning", dict)
        keys = tuple(
            _partition_key(k, i, problems) for i, k in enumerate(need("keys", list, partitioning, "partitioning."))
        )
        consumer = _consumer(need("consumer", dict), problems)
        consumer_columns = tuple(_typed_column(c, i, problems) for i, c in enumerate(need("consumerColumns", list)))

        if not pk:
            problems.append("primaryKey: must name at least one column")
        for key in pk:
            if key not in names:
                problems.append(f"primaryKey: {key!r} is not a column")
        for label, col in (("eventTimeColumn", event_time), ("versionColumn", version)):
            match = next((c for c in columns if c.name == col), None)
            if col and match is None:
                problems.append(f"{label}: {col!r} is not a column")
            elif match is not None and match.type != "timestamp":
                problems.append(f"{label}: {col!r} must be a timestamp (got {match.type})")
        processed = d.get("processed") or ("current-state" if version and version != event_time else "event-log")
        if processed not in PROCESSED_MODES:
            problems.append(f"processed: must be one of {', '.join(PROCESSED_MODES)} (got {processed!r})")
        elif processed == "current-state" and event_time and event_time == version:
            problems.append(
                f"processed: current-state needs a partition time that versions do not change, but eventTimeColumn and "
                f"versionColumn are both {event_time!r} (a new version would land in another partition)"
            )
        if keys and keys[0].type != "date":
            problems.append("partitioning.keys: the first key must be a date")
        for k in keys:
            if k.type == "enum" and k.column not in names:
                problems.append(f"partitioning.keys: enum key {k.name!r} reads {k.column!r}, which is not a column")
            if k.type in ("date", "hour") and k.column != event_time:
                problems.append(
                    f"partitioning.keys: {k.type} key {k.name!r} must read the event time column {event_time!r}"
                )
        if problems:
            raise ContractError(f"dataset_contract{f' {name}' if name else ''}: " + "; ".join(problems))
        return cls(
            name=name,
            columns=columns,
            primary_key=pk,
            event_time_column=event_time,
            version_column=version,
            partitioning=Partitioning(keys=keys),
            consumer=consumer,
            consumer_table=d.get("consumerTable") or name,
            consumer_columns=consumer_columns,
            processed=processed,
        )

    # -- derived views -------------------------------------------------------------------------

    @property
    def dedupe_key(self) -> list[str]:
        """Rows are versions of one record when they share these: partition values and primary key
        (current-state), plus the version (event-log: only exact re-deliveries of a version collapse)."""
        extra = [self.version_column] if self.processed == "event-log" else []
        return list(dict.fromkeys(self.partition_names + list(self.primary_key) + extra))

    def partition_values(self, path: str) -> dict[str, str]:
        """The partition values of a Hive path ("dt=2024-05-01/region=eu/" → {"dt": ..., "region": ...})."""
        values = dict(seg.split("=", 1) for seg in path.strip("/").split("/") if seg)
        return {n: values[n] for n in self.partition_names}

    @property
    def partition_keys(self) -> tuple[PartitionKey, ...]:
        return self.partitioning.keys

    @property
    def partition_names(self) -> list[str]:
        return [k.name for k in self.partition_keys]

    @property
    def data_columns(self) -> list[Column]:
        """Columns stored in processed/curated files: partition columns live in the path only."""
        names = set(self.partition_names)
        return [c for c in self.columns if c.name not in names]

    @property
    def date_key(self) -> PartitionKey:
        return self.partition_keys[0]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def partition_path(self, values: Mapping[str, str]) -> str:
        """Hive path of one partition, as `PartitionLayout.path` renders it: "dt=2024-05-01/region=eu/"."""
        return "".join(f"{n}={values[n]}/" for n in self.partition_names)


def _column(c: Any, i: int, problems: list[str]) -> Column:
    typed = _typed_column(c, i, problems, "columns")
    return Column(
        name=typed.name, type=typed.type, required=bool(c.get("required", False)) if isinstance(c, Mapping) else False
    )


def _typed_column(c: Any, i: int, problems: list[str], label: str = "consumerColumns") -> TypedColumn:
    if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
        problems.append(f"{label}[{i}]: must be an object with a name")
        return TypedColumn(name=f"_invalid_{i}", type="string")
    col = TypedColumn(name=c["name"], type=str(c.get("type")))
    if col.type not in SCALAR_TYPES and col.decimal is None:
        problems.append(f"{label}[{i}] {col.name}: unsupported type {col.type!r}")
    return col


def _partition_key(k: Any, i: int, problems: list[str]) -> PartitionKey:
    if not isinstance(k, Mapping):
        problems.append(f"partitioning.keys[{i}]: must be an object")
        return PartitionKey(name=f"_invalid_{i}", type="enum", column="")
    key = PartitionKey(
        name=str(k.get("name")),
        type=str(k.get("type")),
        column=str(k.get("column")),
        values=tuple(k["values"]) if isinstance(k.get("values"), list) else None,
        range_start=k.get("rangeStart"),
    )
    if key.type not in ("date", "hour", "enum"):
        problems.append(f"partitioning.keys[{i}] {key.name}: type must be date, hour or enum (got {key.type!r})")
    if key.type == "enum" and not key.values:
        problems.append(f"partitioning.keys[{i}] {key.name}: an enum key must list its values")
    if key.type == "date" and not (isinstance(key.range_start, str) and _DAY.match(key.range_start)):
        problems.append(f"partitioning.keys[{i}] {key.name}: rangeStart must be yyyy-MM-dd (got {key.range_start!r})")
    return key


def _consumer(c: Mapping[str, Any], problems: list[str]) -> ConsumerView:
    kind = c.get("kind")
    if kind == "curated":
        return ConsumerView(kind="curated")
    if kind != "aggregate":
        problems.append(f"consumer.kind: must be curated or aggregate (got {kind!r})")
        return ConsumerView(kind="curated")
    measures = []
    for i, m in enumerate(c.get("measures") or []):
        if m.get("fn") not in ("count", "sum", "count_distinct"):
            problems.append(f"consumer.measures[{i}]: fn must be count, sum or count_distinct (got {m.get('fn')!r})")
        measures.append(
            Measure(
                name=str(m.get("name")), fn=str(m.get("fn")), column=m.get("column"), description=m.get("description")
            )
        )
    if not measures:
        problems.append("consumer.measures: an aggregate needs at least one measure")
    return ConsumerView(
        kind="aggregate", name=c.get("name"), group_by=tuple(c.get("groupBy") or ()), measures=tuple(measures)
    )
