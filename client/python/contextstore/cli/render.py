"""How CLI results are printed: raw bytes, aligned ``key: value`` lines, or JSON."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import IO, Any

from contextstore.client import CachedAnalysis, CachedFile, Removed


def to_json(value: Any, key: str = "") -> Any:
    """A JSON-ready form: digests as hex, payloads as base64, times as ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields_json(value)
    if isinstance(value, bytes):
        return value.hex() if key == "sha256" else base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def _fields_json(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        name = f"{f.name}_base64" if isinstance(item, bytes) and f.name != "sha256" else f.name
        out[name] = to_json(item, f.name)
    return out


def _lines(value: Any, out: IO[str], indent: str = "") -> None:
    rows = _fields_json(value)
    width = max(map(len, rows), default=0)
    for name, item in rows.items():
        nested = getattr(value, name, None)
        if dataclasses.is_dataclass(nested) and not isinstance(nested, type):
            out.write(f"{indent}{name}:\n")
            _lines(nested, out, indent + "  ")
        else:
            shown = (
                ", ".join(f"{k}={v}" for k, v in sorted(item.items()))
                if isinstance(item, dict)
                else item
            )
            out.write(f"{indent}{name.ljust(width)}  {'-' if shown is None else shown}\n")


def human(result: Any, out: IO[str]) -> None:
    """Print ``result`` for a person; file and analysis payloads go out raw."""
    if isinstance(result, CachedFile | CachedAnalysis):
        payload = result.content if isinstance(result, CachedFile) else result.result
        out.flush()
        out.buffer.write(payload)  # type: ignore[attr-defined]
        out.buffer.flush()  # type: ignore[attr-defined]
    elif isinstance(result, Removed):
        out.write(f"removed {result.files} file(s), {result.analyses} analysis(es)\n")
    elif isinstance(result, int):
        out.write(f"removed {result} analysis(es)\n")
    elif isinstance(result, datetime):
        out.write(f"cached at {result.isoformat()}\n")
    else:
        _lines(result, out)
