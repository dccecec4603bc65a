"""How CLI results are printed: raw bytes, aligned ``key  value`` lines, or JSON.

``--json`` prints protobuf's JSON mapping of the response message, with the
options that make it what grpcurl prints (``-emit-defaults``): field names as
in the .proto, zero values included. Failures under ``--json`` are the
``google.rpc.Status`` in the same mapping, as ``grpcurl -format-error`` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from contextstore.client import CachedAnalysis, CachedFile, FileMetadata, Removed

# Imported for its side effect: BadRequest and QuotaFailure, the details the
# server attaches, must be in the descriptor pool for their Any to print.
_DETAILS = error_details_pb2


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """The files of a batch read, by the paths asked for (None: a miss)."""

    paths: Sequence[str]
    files: Sequence[CachedFile | None]


@dataclasses.dataclass(frozen=True, slots=True)
class Listed:
    """Files listed (``ls``), in path order."""

    files: Sequence[FileMetadata]


def to_json(message: Message) -> str:
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=2,
        ensure_ascii=False,
    )


def status_json(status: status_pb2.Status) -> str:
    try:
        return to_json(status)
    except TypeError:  # a detail of a type this client does not know: keep the rest
        plain = status_pb2.Status(code=status.code, message=status.message)
        return to_json(plain)


def write_json(text: str, out: IO[str]) -> None:
    """JSON is UTF-8 whatever the locale says, so it goes out as bytes."""
    out.flush()
    out.buffer.write(text.encode() + b"\n")  # type: ignore[attr-defined]
    out.flush()


# -- for a person ------------------------------------------------------------------


def _plain(value: Any, key: str) -> Any:
    """A value as one readable cell: digests in hex, times in ISO 8601."""
    if isinstance(value, bytes):
        return value.hex() if key == "sha256" else f"<{len(value)} bytes>"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return value


def _lines(value: Any, out: IO[str], indent: str = "") -> None:
    fields = dataclasses.fields(value)
    width = max((len(f.name) for f in fields), default=0)
    for f in fields:
        item = getattr(value, f.name)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            out.write(f"{indent}{f.name}:\n")
            _lines(item, out, indent + "  ")
        else:
            shown = "-" if item is None else _plain(item, f.name)
            out.write(f"{indent}{f.name.ljust(width)}  {shown}\n")


def _raw(payload: bytes, out: IO[str]) -> None:
    out.flush()
    out.buffer.write(payload)  # type: ignore[attr-defined]
    out.flush()


def _fetched(result: Fetched, out: IO[str]) -> None:
    """Like ``head`` with several files: a ``==> path <==`` header before each one found."""
    before = ""
    for path, file in zip(result.paths, result.files, strict=True):
        if file is not None:
            out.write(f"{before}==> {path} <==\n")
            _raw(file.content, out)
            before = "\n"


def _file_lines(files: Sequence[FileMetadata], out: IO[str]) -> None:
    for m in files:
        out.write(f"{m.path}  {m.size} bytes  version {m.version}  sha256 {m.sha256.hex()}\n")


def _uploaded(files: Sequence[FileMetadata], out: IO[str]) -> None:
    _file_lines(files, out)
    out.write(f"cached {len(files)} file(s)\n")


def human(result: Any, out: IO[str]) -> None:
    """Print ``result`` for a person; file and analysis payloads go out raw."""
    if isinstance(result, CachedFile):
        _raw(result.content, out)
    elif isinstance(result, CachedAnalysis):
        _raw(result.result, out)
    elif isinstance(result, Fetched):
        _fetched(result, out)
    elif isinstance(result, Listed):
        _file_lines(result.files, out)
    elif isinstance(result, list):
        _uploaded(result, out)
    elif isinstance(result, Removed):
        out.write(f"removed {result.files} file(s), {result.analyses} analysis(es)\n")
    elif isinstance(result, int):
        out.write(f"removed {result} analysis(es)\n")
    elif isinstance(result, datetime):
        out.write(f"cached at {result.isoformat()}\n")
    else:
        _lines(result, out)
