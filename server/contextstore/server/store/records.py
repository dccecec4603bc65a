"""The compact records a shard keeps, and the one place that reads or builds them.

Memory drives the layout (a million cached files must cost well under 400
bytes each beyond their content), so records are plain tuples of atomic
values: the cyclic GC untracks those, and a tuple costs less than any object
with named fields. Their layouts are private to this module; everything else
goes through the typed accessors below.

- A file, under its ``path``: ``(content, packed)``, or ``(content, packed,
  label_bytes)`` when it has labels. ``packed`` is the recency tick (8 bytes)
  followed by the file's metadata tail in wire form (``wire``): what a read
  sends, encoded once at write time, and no larger than the fixed fields it
  replaced. The tick lives there because malloc rounding makes it free; as an
  int of its own it would cost 32 bytes a file. ``label_bytes`` is the labels'
  budget charge, so that accounting never decodes the tail.
- An analysis, under ``(path, analysis_type)``: ``(result, source_sha256,
  cached_at, tick)``, ``source_sha256`` being ``None`` when no file was there.
"""

from __future__ import annotations

import struct
from typing import Any

from contextstore.server import wire
from contextstore.server.store.base import (
    CachedAnalysis,
    analysis_charge,
    utf8_len,
)
from contextstore.server.wire import WireFile

Key = str | tuple[str, str]
"""A file's ``path``, or ``(path, analysis_type)`` for an analysis: a ``str`` key is a file."""
Record = tuple[Any, ...]
"""A file's or an analysis's record; build and read them only here."""

_TICK = struct.Struct("<q")
_SHA256_AT = _TICK.size + wire.SHA256_OFFSET

# -- files ---------------------------------------------------------------------


def new_file(content: bytes, *, tick: int, tail: bytes, label_bytes: int) -> Record:
    """A file record; ``tail`` from ``wire`` (digest first), ``label_bytes`` its labels' charge."""
    packed = _TICK.pack(tick) + tail
    return (content, packed, label_bytes) if label_bytes else (content, packed)


def file_sha256(record: Record) -> bytes:
    sha256: bytes = record[1][_SHA256_AT : _SHA256_AT + 32]
    return sha256


def wire_file(record: Record) -> WireFile:
    """The file as reads send it."""
    return _new_tuple(WireFile, (record[0], record[1][_TICK.size :]))


_new_tuple = tuple.__new__  # a NamedTuple built without its Python-level __new__: reads are hot


def file_tail(record: Record) -> bytes:
    """The file's metadata as reads send it (``wire``)."""
    tail: bytes = record[1][_TICK.size :]
    return tail


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
        return file_with_tick(record, new_tick)
    return (*record[:3], new_tick)


def file_with_tick(record: Record, new_tick: int) -> Record:
    """The same file record, used at ``new_tick``."""
    packed = _pack_tick(new_tick) + record[1][_TICK.size :]
    return (record[0], packed) if len(record) == 2 else (record[0], packed, record[2])


_pack_tick = _TICK.pack


def charge(key: Key, record: Record) -> int:
    """Bytes an entry counts against budgets (see ``base.content_charge``)."""
    if isinstance(key, str):
        labels = record[2] if len(record) == 3 else 0
        return len(record[0]) + utf8_len(key) + labels
    return analysis_charge(key[0], key[1], record[0])
