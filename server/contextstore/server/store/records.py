"""The compact records a shard keeps, and the one place that reads or builds them.

Memory drives the layout (a million cached files must cost well under 400
bytes each beyond their content), so records are plain tuples of atomic
values: the cyclic GC untracks those, and a tuple costs less than any object
with named fields. Their layouts are private to this module; everything else
goes through the typed accessors below.

- A file, under its ``path``: ``(content, packed)``, or ``(content, packed,
  mtime_ns, labels)`` when it has either. ``packed`` is ``_FILE`` bytes:
  recency tick, sha256, cached_at and version. The tick lives there because
  malloc rounding makes it free; as an int of its own it would cost 32 bytes
  a file.
- An analysis, under ``(path, analysis_type)``: ``(result, source_sha256,
  cached_at, tick)``, ``source_sha256`` being ``None`` when no file was there.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from contextstore.server.store.base import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    analysis_charge,
    content_charge,
    new_cached_file,
    new_metadata,
)

Key = str | tuple[str, str]
"""A file's ``path``, or ``(path, analysis_type)`` for an analysis: a ``str`` key is a file."""
Record = tuple[Any, ...]
"""A file's or an analysis's record; build and read them only here."""

_FILE = struct.Struct("<q32sqq")  # tick, sha256, cached_at_ns, version
_META = struct.Struct("<32sqq")  # the same bytes past the tick
_TICK = struct.Struct("<q")
_NO_LABELS: Mapping[str, str] = MappingProxyType({})

# -- files ---------------------------------------------------------------------


def new_file(
    content: bytes,
    *,
    tick: int,
    sha256: bytes,
    cached_at_ns: int,
    version: int,
    mtime_ns: int | None,
    labels: Mapping[str, str] | None,
) -> Record:
    packed = _FILE.pack(tick, sha256, cached_at_ns, version)
    if mtime_ns is None and not labels:
        return (content, packed)
    return (content, packed, mtime_ns, dict(labels) if labels else None)


def file_content(record: Record) -> bytes:
    content: bytes = record[0]
    return content


def file_sha256(record: Record) -> bytes:
    sha256: bytes = _META.unpack_from(record[1], _TICK.size)[0]
    return sha256


def file_labels(record: Record) -> Mapping[str, str]:
    return (record[3] or _NO_LABELS) if len(record) == 4 else _NO_LABELS


def file_metadata(path: str, record: Record) -> FileMetadata:
    """The public metadata of the file record at ``path``."""
    sha256, cached_at, version = _META.unpack_from(record[1], _TICK.size)
    if len(record) == 4:
        mtime, labels = record[2], record[3] or _NO_LABELS
    else:
        mtime, labels = None, _NO_LABELS
    return new_metadata(path, len(record[0]), sha256, mtime, cached_at, labels, version)


def cached_file(path: str, record: Record) -> CachedFile:
    return new_cached_file(record[0], file_metadata(path, record))


# -- analyses ------------------------------------------------------------------


def new_analysis(result: bytes, *, source: bytes | None, cached_at_ns: int, tick: int) -> Record:
    return (result, source, cached_at_ns, tick)


def analysis_source(record: Record) -> bytes | None:
    """Digest of the file content the analysis was stored against, if any."""
    source: bytes | None = record[1]
    return source


def cached_analysis(record: Record) -> CachedAnalysis:
    return CachedAnalysis(record[0], record[2])


# -- either --------------------------------------------------------------------


def tick(key: Key, record: Record) -> int:
    """The record's recency tick: larger is more recently used."""
    if isinstance(key, str):
        value: int = _TICK.unpack_from(record[1])[0]
        return value
    return int(record[3])


def with_tick(key: Key, record: Record, new_tick: int) -> Record:
    """The same record, used at ``new_tick``."""
    if isinstance(key, str):
        packed = _TICK.pack(new_tick) + record[1][_TICK.size :]
        return (record[0], packed) if len(record) == 2 else (record[0], packed, *record[2:])
    return (*record[:3], new_tick)


def charge(key: Key, record: Record) -> int:
    """Bytes an entry counts against budgets (see ``base.content_charge``)."""
    if isinstance(key, str):
        return content_charge(key, record[0], file_labels(record))
    return analysis_charge(key[0], key[1], record[0])
