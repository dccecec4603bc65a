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
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from contextstore.server import wire
from contextstore.server.store.base import CachedAnalysis, Namespace
from contextstore.server.wire import WireFile

BUCKETS = 1024
LAYOUT = "x"
"""What this layout's namespace ids start with (``library.lua``, "Namespace ids")."""

# A file record: charge (10 digits), tail length (8 digits), tail, content.
_CHARGE = 10
_FILE_HEAD = _CHARGE + 8
_SHA = 32
_ANALYSIS_HEAD = 31  # cached_at (20), charge (10), source flag (1)
_BUCKET = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class NamespaceKeys:
    """The keys of a namespace and its bucket, and the namespace's id in its bucket."""

    data: str
    paths: str
    recency: str
    changes: str
    tally: str
    idle: str
    streams: str
    id: str
    is_session: str  # "1" or "0": Redis arguments are strings

    def keys(self, lru: bool) -> tuple[str, ...]:
        """What a namespace function takes: recency only when it is kept (``library.lua``)."""
        common = (self.data, self.tally, self.idle, self.paths, self.changes, self.streams)
        return (*common, self.recency) if lru else common


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
        ns_id = LAYOUT + digest[2:14].hex()
        base = self.bucket_prefix(bucket)
        return NamespaceKeys(
            data=base + ns_id,
            paths=base + ns_id + "p",
            recency=base + ns_id + "r",
            changes=base + ns_id + "w",
            tally=base + "t",
            idle=base + "u",
            streams=base + "w",
            id=ns_id,
            is_session="0" if ns is None else "1",
        )

    def bucket_prefix(self, bucket: int) -> str:
        """What every key of ``bucket`` starts with; a namespace's data key adds its id."""
        return f"{self.prefix}{{{bucket}}}"

    def bucket_keys(self, bucket: int) -> tuple[str, str, str]:
        base = self.bucket_prefix(bucket)
        return (base + "t", base + "u", base + "w")


# -- records -------------------------------------------------------------------


def file_head(
    charge: int, size: int, sha256: bytes, mtime_ns: int | None, labels: Mapping[str, str]
) -> bytes:
    """What ``put_files`` takes of a file beside its content: its charge and tail's head.

    The function appends cached_at and version to the head in wire form as
    it assigns them (``wire.metadata_stamp``), so a read returns a tail that
    was encoded once, at write time.
    """
    return b"%010d" % charge + wire.metadata_head(size, sha256, mtime_ns, labels)


def cached_at_argument(wall_ns: int) -> bytes:
    """A wall-clock time as the functions compare it: 20 digits."""
    return b"%020d" % max(wall_ns, 0)


def wire_file(record: bytes) -> WireFile:
    """A file record as reads send it: split, never decoded."""
    end = _FILE_HEAD + int(record[_CHARGE:_FILE_HEAD])
    return WireFile(record[end:], record[_FILE_HEAD:end])


def file_tail(record: bytes) -> bytes:
    """A file's encoded metadata from its record, content or not (GetMetadata gets it without)."""
    return record[_FILE_HEAD : _FILE_HEAD + int(record[_CHARGE:_FILE_HEAD])]


def cached_analysis(record: bytes) -> CachedAnalysis:
    source = _SHA if record[_ANALYSIS_HEAD - 1 : _ANALYSIS_HEAD] == b"1" else 0
    return CachedAnalysis(record[_ANALYSIS_HEAD + source :], int(record[:20]))
