"""One stripe's data: plain, single-threaded code.

A shard holds every entry whose ``(namespace, path)`` hashes to it: a path's
file and all of its analyses share a shard, so path-level operations never span
shards. Two recency orders are kept: per namespace (for session budgets and for
clearing a namespace in O(its entries)) and per shard (for the total budget).
Recency is a store-wide tick, so the oldest head across shards is the store's
least recently used entry. The caller (``StripedStore``) owns the locking.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from contextstore.server.store.base import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FileWrite,
    Namespace,
    Removed,
    Stats,
    analysis_charge,
    file_charge,
)

Kind = str | None
"""``None`` for a path's file, else the analysis type."""

EntryKey = tuple[str, Kind]
ShardKey = tuple[Namespace, str, Kind]


@dataclass(slots=True)
class FileEntry:
    file: CachedFile
    charge: int
    tick: int


@dataclass(slots=True)
class AnalysisEntry:
    analysis: CachedAnalysis
    source_sha256: bytes | None
    charge: int
    tick: int


Entry = FileEntry | AnalysisEntry


@dataclass(slots=True)
class NsState:
    """One namespace's part of a shard, with its counters."""

    entries: OrderedDict[EntryKey, Entry] = field(default_factory=OrderedDict)
    analysis_types: dict[str, set[str]] = field(default_factory=dict)
    files: int = 0
    analyses: int = 0
    bytes: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class Shard:
    """Entries of one stripe. Not thread-safe: callers hold the stripe lock."""

    def __init__(self) -> None:
        self.namespaces: dict[Namespace, NsState] = {}
        self.lru: OrderedDict[ShardKey, None] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._last_wall_ns = 0

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
        self._drop_analyses_not_from(ns, write.path, sha256)
        meta = FileMetadata(
            path=write.path,
            size=len(write.content),
            sha256=sha256,
            mtime_ns=write.mtime_ns,
            cached_at_ns=self._cached_at(wall_ns),
            labels=dict(write.labels),
            version=version,
        )
        entry = FileEntry(CachedFile(write.content, meta), file_charge(write), tick)
        self._insert(ns, state, (write.path, None), entry)
        return meta

    def put_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes, tick: int, wall_ns: int
    ) -> CachedAnalysis:
        state = self._state(ns)
        source = state.entries.get((path, None))
        sha = source.file.metadata.sha256 if isinstance(source, FileEntry) else None
        analysis = CachedAnalysis(result, self._cached_at(wall_ns))
        charge = analysis_charge(path, analysis_type, result)
        self._insert(ns, state, (path, analysis_type), AnalysisEntry(analysis, sha, charge, tick))
        state.analysis_types.setdefault(path, set()).add(analysis_type)
        return analysis

    # -- reads ---------------------------------------------------------------

    def get(self, ns: Namespace, key: EntryKey, tick: int, known: bool) -> Entry | None:
        """Look an entry up, refresh its recency, and count a hit or miss.

        ``known`` says the namespace exists in the store, so its miss counts
        against it even where it holds nothing in this shard.
        """
        state = self._state(ns) if known else self.namespaces.get(ns)
        entry = state.entries.get(key) if state is not None else None
        self.hits += entry is not None
        self.misses += entry is None
        if state is None:
            return None
        state.hits += entry is not None
        state.misses += entry is None
        if entry is not None:
            entry.tick = tick
            state.entries.move_to_end(key)
            self.lru.move_to_end((ns, *key))
        return entry

    # -- removals ------------------------------------------------------------

    def remove_file(self, ns: Namespace, path: str) -> Removed:
        files = 1 if self._remove(ns, (path, None)) is not None else 0
        return Removed(files, self.remove_analyses(ns, path, None))

    def remove_analyses(self, ns: Namespace, path: str, analysis_type: str | None) -> int:
        state = self.namespaces.get(ns)
        types = state.analysis_types.get(path) if state is not None else None
        if not types:
            return 0
        chosen = list(types) if analysis_type is None else [analysis_type]
        return sum(self._remove(ns, (path, t)) is not None for t in chosen)

    def drop_namespace(self, ns: Namespace) -> Removed:
        """Remove a namespace's entries and counters; O(its entries here)."""
        state = self.namespaces.pop(ns, None)
        if state is None:
            return Removed()
        for path, kind in state.entries:
            del self.lru[(ns, path, kind)]
        self.bytes -= state.bytes
        return Removed(state.files, state.analyses)

    # -- eviction ------------------------------------------------------------

    def oldest_tick(self, ns: Namespace | None = None, *, in_namespace: bool = False) -> int | None:
        """Tick of the least recently used entry, of the shard or of ``ns``."""
        if in_namespace:
            state = self.namespaces.get(ns)
            if state is None or not state.entries:
                return None
            return next(iter(state.entries.values())).tick
        if not self.lru:
            return None
        ns0, path, kind = next(iter(self.lru))
        return self.namespaces[ns0].entries[(path, kind)].tick

    def evict_oldest(self, ns: Namespace | None = None, *, in_namespace: bool = False) -> None:
        if in_namespace:
            key: ShardKey = (ns, *next(iter(self.namespaces[ns].entries)))
        else:
            key = next(iter(self.lru))
        ns0, path, kind = key
        # An evicted file's analyses stay: they carry the digest they were
        # computed from, so a later CacheFile still drops them if stale.
        self._remove(ns0, (path, kind))
        self.evictions += 1
        self.namespaces[ns0].evictions += 1

    # -- accounting ----------------------------------------------------------

    def usage(self, ns: Namespace) -> tuple[int, int]:
        """(bytes, entries) of ``ns`` in this shard."""
        state = self.namespaces.get(ns)
        return (state.bytes, len(state.entries)) if state is not None else (0, 0)

    def stats(self, ns: Namespace, *, whole_shard: bool) -> Stats:
        if whole_shard:
            states = list(self.namespaces.values())
            hits, misses, evictions = self.hits, self.misses, self.evictions
        else:
            state = self.namespaces.get(ns)
            states = [state] if state is not None else []
            hits = sum(s.hits for s in states)
            misses = sum(s.misses for s in states)
            evictions = sum(s.evictions for s in states)
        return Stats(
            files=sum(s.files for s in states),
            analyses=sum(s.analyses for s in states),
            bytes=sum(s.bytes for s in states),
            hits=hits,
            misses=misses,
            evictions=evictions,
        )

    # -- internals -----------------------------------------------------------

    def _state(self, ns: Namespace) -> NsState:
        state = self.namespaces.get(ns)
        if state is None:
            state = self.namespaces[ns] = NsState()
        return state

    def _cached_at(self, wall_ns: int) -> int:
        # Two writes in sequence must read as ordered even if the wall clock
        # stalls or steps back; a path always lives in one shard. A whole
        # microsecond apart, so clients holding microsecond datetimes agree.
        self._last_wall_ns = max(wall_ns, self._last_wall_ns + 1000)
        return self._last_wall_ns

    def _insert(self, ns: Namespace, state: NsState, key: EntryKey, entry: Entry) -> None:
        self._remove(ns, key)
        state.entries[key] = entry
        self.lru[(ns, *key)] = None
        self._account(state, entry, +1)

    def _remove(self, ns: Namespace, key: EntryKey) -> Entry | None:
        state = self.namespaces.get(ns)
        entry = state.entries.pop(key, None) if state is not None else None
        if entry is None:
            return None
        assert state is not None
        del self.lru[(ns, *key)]
        self._account(state, entry, -1)
        path, kind = key
        if kind is not None:
            types = state.analysis_types[path]
            types.discard(kind)
            if not types:
                del state.analysis_types[path]
        return entry

    def _account(self, state: NsState, entry: Entry, sign: int) -> None:
        state.bytes += sign * entry.charge
        self.bytes += sign * entry.charge
        if isinstance(entry, FileEntry):
            state.files += sign
        else:
            state.analyses += sign

    def _drop_analyses_not_from(self, ns: Namespace, path: str, sha256: bytes) -> None:
        """Keep only analyses provably computed from content ``sha256``.

        One rule covers every case: a changed file drops the analyses of the
        old content, an evicted-then-recached file is still checked, and an
        analysis cached while no file was there (``None``: unknown source) is
        dropped too, since nothing shows it was computed from this content.
        """
        state = self.namespaces[ns]
        for analysis_type in list(state.analysis_types.get(path, ())):
            entry = state.entries[(path, analysis_type)]
            assert isinstance(entry, AnalysisEntry)
            if entry.source_sha256 != sha256:
                self._remove(ns, (path, analysis_type))
