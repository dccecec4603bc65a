"""Where a namespace lives in Redis, and the bytes of its records.

The key and record layouts are described once, in ``library.lua``'s header;
this module is their Python half and must agree with it.

A namespace hashes to one of ``BUCKETS`` buckets; every key of a bucket and
of its namespaces carries the hash tag ``{bucket}``, so they share one Redis
Cluster slot and one function call can change them atomically. A digest, not
the session id, makes the tag: an id may itself hold ``{``. A fixed number of
buckets bounds the store-wide keys (counters, the idle index) to two per
bucket, whatever clients send, and spreads namespaces over ``BUCKETS``
slots, so over that many primaries at most.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from contextstore.server import wire
from contextstore.server.store.base import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    Namespace,
    content_charge,
    new_cached_file,
    new_metadata,
)
from contextstore.server.wire import WireFile

BUCKETS = 1024

_FILE_HEAD = 36  # cached_at (20 digits), version (16 digits)
_CHARGE = 10
_SHA = 32
_META_LEN = 8
_ANALYSIS_HEAD = 31  # cached_at (20), charge (10), source flag (1)
_NO_LABELS: Mapping[str, str] = MappingProxyType({})
_BUCKET = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class NamespaceKeys:
    """The keys of a namespace and its bucket, and the namespace's id in its bucket."""

    data: str
    recency: str
    tally: str
    idle: str
    id: str
    is_session: str  # "1" or "0": Redis arguments are strings

    def keys(self, lru: bool) -> tuple[str, ...]:
        """What a namespace function takes: recency only when it is kept (``library.lua``)."""
        if lru:
            return (self.data, self.tally, self.idle, self.recency)
        return (self.data, self.tally, self.idle)


class Layout:
    """Key names under one prefix (``--redis-key-prefix``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._cache: dict[Namespace, NamespaceKeys] = {}

    def namespace(self, ns: Namespace) -> NamespaceKeys:
        keys = self._cache.get(ns)
        if keys is None:
            keys = self._namespace(ns)
            if len(self._cache) > 65536:  # a bound, not an LRU: ids are cheap to redo
                self._cache.clear()
            self._cache[ns] = keys
        return keys

    def _namespace(self, ns: Namespace) -> NamespaceKeys:
        # "s" + id and "g" never meet, so a session named "global" is a session.
        name = b"g" if ns is None else b"s" + ns.encode()
        digest = hashlib.sha256(name).digest()
        bucket = _BUCKET.unpack_from(digest)[0] % BUCKETS
        ns_id = digest[2:14].hex()
        base = self.bucket_prefix(bucket)
        return NamespaceKeys(
            data=base + ns_id,
            recency=base + ns_id + "r",
            tally=base + "t",
            idle=base + "u",
            id=ns_id,
            is_session="0" if ns is None else "1",
        )

    def bucket_prefix(self, bucket: int) -> str:
        """What every key of ``bucket`` starts with; a namespace's data key adds its id."""
        return f"{self.prefix}{{{bucket}}}"

    def bucket_keys(self, bucket: int) -> tuple[str, str]:
        base = self.bucket_prefix(bucket)
        return (base + "t", base + "u")


# -- records -------------------------------------------------------------------


def file_tail(charge: int, sha256: bytes, mtime_ns: int | None, labels: Mapping[str, str]) -> bytes:
    """The part of a file record the server builds; the function prepends the rest.

    The content goes separately, so it is not copied here.
    """
    meta = b""
    if mtime_ns is not None or labels:
        meta = json.dumps([mtime_ns, dict(labels)], ensure_ascii=False).encode()
    return b"%010d%s%08d%s" % (charge, sha256, len(meta), meta)


def cached_at_argument(wall_ns: int) -> bytes:
    """A wall-clock time as the functions compare it: 20 digits."""
    return b"%020d" % max(wall_ns, 0)


_SHA_AT = _FILE_HEAD + _CHARGE
_META_AT = _SHA_AT + _SHA
_CONTENT_AT = _META_AT + _META_LEN


def file_metadata(path: str, record: bytes, size: int | None = None) -> FileMetadata:
    """A file's metadata from its record; ``size`` if known, else from the charge.

    The metadata read (GetMetadata) gets the record without its content.
    """
    meta_len = int(record[_META_AT:_CONTENT_AT])
    mtime_ns: int | None = None
    labels = _NO_LABELS
    if meta_len:
        mtime_ns, given = json.loads(record[_CONTENT_AT : _CONTENT_AT + meta_len])
        labels = MappingProxyType(given) if given else _NO_LABELS
    if size is None:
        # The charge counts content, path and labels: the size is what is left.
        size = int(record[_FILE_HEAD:_SHA_AT]) - content_charge(path, b"", labels)
    return new_metadata(
        path,
        size,
        record[_SHA_AT:_META_AT],
        mtime_ns,
        int(record[:20]),
        labels,
        int(record[20:_FILE_HEAD]),
    )


def cached_file(path: str, record: bytes) -> CachedFile:
    start = _CONTENT_AT + int(record[_META_AT:_CONTENT_AT])
    content = record[start:]
    return new_cached_file(content, file_metadata(path, record, len(content)))


def cached_analysis(record: bytes) -> CachedAnalysis:
    source = _SHA if record[_ANALYSIS_HEAD - 1 : _ANALYSIS_HEAD] == b"1" else 0
    return CachedAnalysis(record[_ANALYSIS_HEAD + source :], int(record[:20]))


def wire_file(path: str, record: bytes) -> WireFile:
    """A file record as reads send it (``wire``)."""
    file = cached_file(path, record)
    m = file.metadata
    tail = wire.metadata_tail(m.size, m.sha256, m.mtime_ns, m.cached_at_ns, m.labels, m.version)
    return WireFile(file.content, tail)
