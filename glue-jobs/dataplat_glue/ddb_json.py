"""DynamoDB JSON → plain JSON, as the export connector's `dynamodb.unnestDDBJson: true` does.

Used for the local stand-in of the Glue DynamoDB export connector (reading a table export's
`data/*.json.gz` files) and tested on a sample export. Pure Python.

| DynamoDB | plain JSON |
| --- | --- |
| `S`, `B` (base64 text) | string |
| `N` | number: integer, or float when that is exact, else the decimal text as a string |
| `BOOL`, `NULL` | `true`/`false`, `null` |
| `M`, `L` | object, array (recursively) |
| `SS`, `NS`, `BS` | array, sorted (sets have no order; sorting keeps output stable) |
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

_SCALARS = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")


class DynamoJsonError(ValueError):
    """A value is not valid DynamoDB JSON; the message gives the attribute path."""


def number(text: str, path: str = "") -> Any:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise DynamoJsonError(f"{path or 'value'}: N {text!r} is not a number") from None
    if not d.is_finite():
        raise DynamoJsonError(f"{path or 'value'}: N {text!r} is not a finite number")
    if d == d.to_integral_value() and "e" not in text.lower() and "." not in text:
        return int(d)
    as_float = float(d)
    return as_float if Decimal(repr(as_float)) == d else str(d)


def unmarshal_value(value: Mapping[str, Any], path: str = "") -> Any:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise DynamoJsonError(
            f'{path or "value"}: expected one type descriptor like {{"S": ...}} (got {json.dumps(value)[:80]})'
        )
    ((kind, v),) = value.items()
    if kind in ("S", "B"):
        return v
    if kind == "N":
        return number(v, path)
    if kind == "BOOL":
        return bool(v)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: unmarshal_value(x, f"{path}.{k}" if path else k) for k, x in v.items()}
    if kind == "L":
        return [unmarshal_value(x, f"{path}[{i}]") for i, x in enumerate(v)]
    if kind in ("SS", "BS"):
        return sorted(v)
    if kind == "NS":
        return [number(x, path) for x in sorted(v, key=Decimal)]
    raise DynamoJsonError(f"{path or 'value'}: unknown DynamoDB type {kind!r} (expected one of {', '.join(_SCALARS)})")


def unmarshal_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: unmarshal_value(v, k) for k, v in item.items()}


def export_line_to_json(line: str) -> str:
    """One line of a DynamoDB export (`{"Item": {...}}`) or a bare item → one plain JSON object line."""
    data = json.loads(line)
    item = data.get("Item", data) if isinstance(data, Mapping) else data
    if not isinstance(item, Mapping):
        raise DynamoJsonError(f"expected an object with an Item (got {line[:80]!r})")
    return json.dumps(unmarshal_item(item), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _plain(item: Mapping[str, Any]) -> str:
    return json.dumps(unmarshal_item(item), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def parse_export_line(line: str) -> tuple[str, str, str | None, int | None]:
    """One line of a full or an incremental export → (kind, plain JSON, old image JSON, write time µs).

    - full export, `{"Item": {...}}` (or a bare item): ("upsert", item, None, None);
    - incremental export, `{"Metadata": {"WriteTimestampMicros": ...}, "Keys": ..., "NewImage": ..., "OldImage": ...}`:
      with a NewImage ("upsert", new image, old image or None, µs): an item created or changed in the window;
      without one ("delete", keys, old image or None, µs): an item deleted in the window.
    """
    data = json.loads(line)
    if not isinstance(data, Mapping):
        raise DynamoJsonError(f"expected an export line object (got {line[:80]!r})")
    if "Keys" not in data and "NewImage" not in data:
        return ("upsert", export_line_to_json(line), None, None)
    micros_value = (data.get("Metadata") or {}).get("WriteTimestampMicros")
    micros = int(unmarshal_value(micros_value, "Metadata.WriteTimestampMicros")) if micros_value else None
    old = _plain(data["OldImage"]) if isinstance(data.get("OldImage"), Mapping) else None
    if isinstance(data.get("NewImage"), Mapping):
        return ("upsert", _plain(data["NewImage"]), old, micros)
    if not isinstance(data.get("Keys"), Mapping):
        raise DynamoJsonError(f"an incremental export line needs Keys or a NewImage (got {line[:80]!r})")
    return ("delete", _plain(data["Keys"]), old, micros)
