"""One stripe's data: plain, single-threaded code.

A shard holds whole namespaces: every entry of a namespace lives in the shard
its namespace hashes to, so clearing, expiring or budgeting a session touches
one shard, in O(its own entries) at most, whatever the rest of the store holds.

Memory is the design's driver (a million cached files must cost well under
400 bytes each beyond their content), so one namespace keeps one ordered
mapping, in least-recently-used-first order, of compact records:

- a file under its ``path`` (a plain ``str`` key): ``(content, packed)``, or
  ``(content, packed, mtime_ns, labels)`` when it has either, where ``packed``
  is ``_FILE`` bytes: recency tick, sha256, cached_at and version;
- an analysis under ``(path, analysis_type)``: ``(result, source_sha256,
  cached_at, tick)``.

A file's tick lives in its packed bytes, where malloc rounding makes it free;
as an int of its own it would cost 32 bytes a file. A read re-packs it.

Records are tuples of atomic values, which the cyclic GC untracks, so a full
collection does not walk a million entries. Sizes and charges are derived, not
stored, and the public ``FileMetadata``/``CachedFile`` are built on read.

Recency is a store-wide tick, so the oldest head across shards is the store's
least recently used entry: eviction for the total budget stays exact across
shards. A shard finds its own oldest head through ``_heads``, a lazy min-heap of
namespaces keyed by a lower bound of their head tick (a namespace's head tick
only grows: reads refresh, removals drop, and inserts bring newer ticks). The
caller (``StripedStore``) owns the locking.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from contextstore.server.store.base import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FileWrite,
    Namespace,
    Removed,
    Stats,
    analysis_charge,
    content_charge,
)

_FILE = struct.Struct("<q32sqq")  # tick, sha256, cached_at_ns, version
_META = struct.Struct("<32sqq")  # the same bytes past the tick
_TICK = struct.Struct("<q")
_NO_LABELS: Mapping[str, str] = MappingProxyType({})

Key = str | tuple[str, str]
"""A file's ``path``, or ``(path, analysis_type)`` for an analysis."""
Record = tuple[Any, ...]
"""A file's or an analysis's record; see the module docstring for the layouts."""

# Reads build a FileMetadata and a CachedFile per call. A frozen dataclass's
# ``__init__`` sets each field through ``object.__setattr__`` by name; calling
# each slot's own setter, spelled out, builds the same object in about half
# the time (a loop over the setters would give most of that back).
_new = object.__new__
_set_path, _set_size, _set_sha256, _set_mtime, _set_cached_at, _set_labels, _set_version = (
    getattr(FileMetadata, f.name).__set__ for f in fields(FileMetadata)
)
_set_content, _set_metadata = (getattr(CachedFile, f.name).__set__ for f in fields(CachedFile))


def _charge(key: Key, record: Record) -> int:
    """Bytes an entry counts against budgets (see ``base.content_charge``)."""
    if isinstance(key, str):
        labels = record[3] if len(record) == 4 and record[3] else _NO_LABELS
        return content_charge(key, record[0], labels)
    return analysis_charge(key[0], key[1], record[0])


def _tick(key: Key, record: Record) -> int:
    if isinstance(key, str):
        tick: int = _TICK.unpack_from(record[1])[0]
        return tick
    return int(record[3])


def _file_meta(path: str, record: Record) -> FileMetadata:
    """The public metadata of the file record at ``path``: ``FileMetadata(...)``, built faster."""
    sha256, cached_at, version = _META.unpack_from(record[1], _TICK.size)
    meta = _new(FileMetadata)
    _set_path(meta, path)
    _set_size(meta, len(record[0]))
    _set_sha256(meta, sha256)
    if len(record) == 4:
        _set_mtime(meta, record[2])
        _set_labels(meta, record[3] or _NO_LABELS)
    else:
        _set_mtime(meta, None)
        _set_labels(meta, _NO_LABELS)
    _set_cached_at(meta, cached_at)
    _set_version(meta, version)
    return meta


@dataclass(slots=True, eq=False)
class NsState:
    """One namespace: its entries, oldest first, and its counters."""

    entries: OrderedDict[Key, Record] = field(default_factory=OrderedDict)
    analysis_types: dict[str, set[str]] = field(default_factory=dict)
    files: int = 0
    analyses: int = 0
    bytes: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    queued: bool = False  # has an entry in its shard's ``_heads``
    dropped: bool = False

    def head_tick(self) -> int:
        key, record = next(iter(self.entries.items()))
        return _tick(key, record)


class Shard:
    """Namespaces of one stripe. Not thread-safe: callers hold the stripe lock."""

    def __init__(self) -> None:
        self.namespaces: dict[Namespace, NsState] = {}
        self.files = 0
        self.analyses = 0
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._last_wall_ns = 0
        self._heads: list[tuple[int, int, NsState]] = []
        self._seq = itertools.count()

    # -- writes --------------------------------------------------------------

    def put_file(
        self,
        ns: Namespace,
        write: FileWrite,
        sha256: bytes,
        tick: int,
        wall_ns: int,
        *,
        version: int,
    ) -> FileMetadata:
        state = self._state(ns)
        path, content, mtime = write.path, write.content, write.mtime_ns
        self._drop_analyses_not_from(state, path, sha256)
        cached_at = self._cached_at(wall_ns)
        packed = _FILE.pack(tick, sha256, cached_at, version)
        labels = dict(write.labels) if write.labels else None
        record = (
            (content, packed) if mtime is None and not labels else (content, packed, mtime, labels)
        )
        self._insert(state, path, record, tick)
        return _file_meta(path, record)

    def put_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes, tick: int, wall_ns: int
    ) -> CachedAnalysis:
        state = self._state(ns)
        source = state.entries.get(path)
        sha = _FILE.unpack(source[1])[1] if source is not None else None
        cached_at = self._cached_at(wall_ns)
        self._insert(state, (path, analysis_type), (result, sha, cached_at, tick), tick)
        state.analysis_types.setdefault(path, set()).add(analysis_type)
        return CachedAnalysis(result, cached_at)

    # -- reads ---------------------------------------------------------------

    def get_file(self, ns: Namespace, path: str, tick: int, known: bool) -> CachedFile | None:
        """A file; refreshes its recency and counts a hit or a miss."""
        record = self._read(ns, path, tick, known)
        if record is None:
            return None
        file = _new(CachedFile)  # CachedFile(...), built faster, as _file_meta does
        _set_content(file, record[0])
        _set_metadata(file, _file_meta(path, record))
        return file

    def get_metadata(self, ns: Namespace, path: str, tick: int, known: bool) -> FileMetadata | None:
        record = self._read(ns, path, tick, known)
        return _file_meta(path, record) if record is not None else None

    def get_analysis(
        self, ns: Namespace, path: str, analysis_type: str, tick: int, known: bool
    ) -> CachedAnalysis | None:
        record = self._read(ns, (path, analysis_type), tick, known)
        return CachedAnalysis(record[0], record[2]) if record is not None else None

    # -- removals ------------------------------------------------------------

    def remove_file(self, ns: Namespace, path: str) -> Removed:
        state = self.namespaces.get(ns)
        if state is None:
            return Removed()
        files = 1 if self._remove(state, path) is not None else 0
        return Removed(files, self.remove_analyses(ns, path, None))

    def remove_analyses(self, ns: Namespace, path: str, analysis_type: str | None) -> int:
        state = self.namespaces.get(ns)
        types = state.analysis_types.get(path) if state is not None else None
        if not types:
            return 0
        assert state is not None
        chosen = list(types) if analysis_type is None else [analysis_type]
        return sum(self._remove(state, (path, t)) is not None for t in chosen)

    def drop_namespace(self, ns: Namespace) -> Removed:
        """Remove a namespace's entries and counters: O(its entries), nothing else."""
        state = self.namespaces.pop(ns, None)
        if state is None:
            return Removed()
        state.dropped = True  # its ``_heads`` item, if any, is now void
        # Free the entries now, not when the heap lets go of the husk.
        state.entries, state.analysis_types = OrderedDict(), {}
        self.files -= state.files
        self.analyses -= state.analyses
        self.bytes -= state.bytes
        return Removed(state.files, state.analyses)

    # -- eviction ------------------------------------------------------------

    def oldest_tick(self, ns: Namespace | None = None, *, in_namespace: bool = False) -> int | None:
        """Tick of the least recently used entry, of the shard or of ``ns``."""
        if in_namespace:
            state = self.namespaces.get(ns)
            return state.head_tick() if state is not None and state.entries else None
        heads = self._heads
        while heads:
            tick, _, state = heads[0]
            if state.dropped or not state.entries:
                heapq.heappop(heads)
                state.queued = False
                continue
            head = state.head_tick()
            if head == tick:
                return tick
            heapq.heapreplace(heads, (head, next(self._seq), state))
        return None

    def evict_oldest(self, ns: Namespace | None = None, *, in_namespace: bool = False) -> None:
        """Evict the entry ``oldest_tick`` (called just before, same lock) found."""
        state = self.namespaces[ns] if in_namespace else self._heads[0][2]
        # An evicted file's analyses stay: they carry the digest they were
        # computed from, so a later CacheFile still drops them if stale.
        self._remove(state, next(iter(state.entries)))
        self.evictions += 1
        state.evictions += 1

    # -- accounting ----------------------------------------------------------

    def usage(self, ns: Namespace) -> tuple[int, int]:
        """(bytes, entries) of ``ns``."""
        state = self.namespaces.get(ns)
        return (state.bytes, len(state.entries)) if state is not None else (0, 0)

    def stats(self, ns: Namespace, *, whole_shard: bool) -> Stats:
        if whole_shard:
            return Stats(
                self.files, self.analyses, self.bytes, 0, self.hits, self.misses, self.evictions
            )
        s = self.namespaces.get(ns)
        if s is None:
            return Stats()
        return Stats(s.files, s.analyses, s.bytes, 0, s.hits, s.misses, s.evictions)

    # -- internals -----------------------------------------------------------

    def _state(self, ns: Namespace) -> NsState:
        state = self.namespaces.get(ns)
        if state is None:
            state = self.namespaces[ns] = NsState()
        return state

    def _cached_at(self, wall_ns: int) -> int:
        # Two writes in sequence must read as ordered even if the wall clock
        # stalls or steps back; a namespace always lives in one shard. A whole
        # microsecond apart, so clients holding microsecond datetimes agree.
        self._last_wall_ns = max(wall_ns, self._last_wall_ns + 1000)
        return self._last_wall_ns

    def _read(self, ns: Namespace, key: Key, tick: int, known: bool) -> Any:
        """The record at ``key``, made the most recent at ``tick``; counts a hit or a miss.

        ``known`` says the namespace exists in the store, so its miss counts
        against it even where it holds nothing yet. Every read comes through
        here, so it does its work inline.
        """
        state = self.namespaces.get(ns)
        if state is None:
            if not known:
                self.misses += 1
                return None
            state = self.namespaces[ns] = NsState()
        entries = state.entries
        record = entries.get(key)
        if record is None:
            self.misses += 1
            state.misses += 1
            return None
        self.hits += 1
        state.hits += 1
        # The same record with a new tick: a file's leads its packed bytes.
        if isinstance(key, str):
            packed = _TICK.pack(tick) + record[1][_TICK.size :]
            record = (record[0], packed) if len(record) == 2 else (record[0], packed, *record[2:])
        else:
            record = (*record[:3], tick)
        entries[key] = record
        entries.move_to_end(key)
        return record

    def _insert(self, state: NsState, key: Key, record: Record, tick: int) -> None:
        self._remove(state, key)
        state.entries[key] = record
        self._account(state, key, record, +1)
        if not state.queued:
            state.queued = True
            self._push_head(state, tick)

    def _push_head(self, state: NsState, tick: int) -> None:
        heads = self._heads
        if len(heads) <= 2 * len(self.namespaces) + 16:
            heapq.heappush(heads, (tick, next(self._seq), state))
            return
        # Dropped and emptied namespaces linger until popped; rebuild now and
        # then (``state`` included) so a churn of sessions cannot grow the heap.
        for s in self.namespaces.values():
            s.queued = bool(s.entries)
        live = (s for s in self.namespaces.values() if s.queued)
        heads[:] = [(s.head_tick(), next(self._seq), s) for s in live]
        heapq.heapify(heads)

    def _remove(self, state: NsState, key: Key) -> Record | None:
        record = state.entries.pop(key, None)
        if record is None:
            return None
        self._account(state, key, record, -1)
        if not isinstance(key, str):
            path, kind = key
            types = state.analysis_types[path]
            types.discard(kind)
            if not types:
                del state.analysis_types[path]
        return record

    def _account(self, state: NsState, key: Key, record: Record, sign: int) -> None:
        charge = sign * _charge(key, record)
        state.bytes += charge
        self.bytes += charge
        if isinstance(key, str):
            state.files += sign
            self.files += sign
        else:
            state.analyses += sign
            self.analyses += sign

    def _drop_analyses_not_from(self, state: NsState, path: str, sha256: bytes) -> None:
        """Keep only analyses provably computed from content ``sha256``.

        One rule covers every case: a changed file drops the analyses of the
        old content, an evicted-then-recached file is still checked, and an
        analysis cached while no file was there (``None``: unknown source) is
        dropped too, since nothing shows it was computed from this content.
        """
        for analysis_type in list(state.analysis_types.get(path, ())):
            if state.entries[(path, analysis_type)][1] != sha256:
                self._remove(state, (path, analysis_type))
