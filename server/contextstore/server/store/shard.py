"""One stripe's data: plain, single-threaded code.

A shard holds whole namespaces: every entry of a namespace lives in the shard
its namespace hashes to, so clearing, expiring or budgeting a session touches
one shard, in O(its own entries) at most, whatever the rest of the store holds.

Memory is the design's driver, so one namespace keeps one ordered mapping, in
least-recently-used-first order, of compact records (``records``: their
layouts and the only code that reads them). Sizes and charges are derived, not
stored; a file's metadata is kept encoded as reads send it (``wire``).

Every change to a namespace's entries goes through ``_insert`` or ``_remove``
(clears and expiry too, entry by entry), which report it, with its cause, to
the shard's ``ChangeSink`` if it has one.

Changes are also events (``events``): noted as they happen, under the lock,
into one open revision, which ``commit`` seals into the shard's ``History``
before the caller releases the lock; so one lock hold's changes are one
revision, whole. The shard is its namespaces' revision source.

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
import time
from collections.abc import Callable, Mapping
from itertools import takewhile
from types import MappingProxyType

from contextstore.server import wire
from contextstore.server.store import records
from contextstore.server.store.base import (
    LIST_LOOKS,
    Budgets,
    CachedAnalysis,
    FileMetadata,
    FileWrite,
    Listing,
    Namespace,
    Removed,
    Stats,
    label_charge,
    new_metadata,
)
from contextstore.server.store.contents import SharedContents
from contextstore.server.store.events import (
    EventKind,
    RawEvent,
    Reason,
    next_revision,
    raw_event,
)
from contextstore.server.store.history import History
from contextstore.server.store.namespace import Change, ChangeSink, NsState
from contextstore.server.store.records import Key, Record
from contextstore.server.wire import WireFile

_NO_LABELS: Mapping[str, str] = MappingProxyType({})

# The event a removal is, by cause and entry kind (file, analysis); clears and
# expiry are one session event instead of one per entry.
_FILE_REMOVED = {
    Change.INVALIDATED: EventKind.FILE_INVALIDATED,
    Change.EVICTED: EventKind.FILE_EVICTED,
}
_ANALYSIS_REMOVED = {
    Change.INVALIDATED: Reason.INVALIDATED,
    Change.STALE: Reason.STALE,
    Change.EVICTED: Reason.EVICTED,
}
_SESSION_GONE = {
    Change.CLEARED: EventKind.SESSION_CLEARED,
    Change.EXPIRED: EventKind.SESSION_EXPIRED,
}


class Shard:
    """Namespaces of one stripe. Not thread-safe: callers hold the stripe lock."""

    def __init__(
        self,
        sink: ChangeSink | None = None,
        *,
        history: History | None = None,
        wall_clock: Callable[[], int] = time.time_ns,
        contents: SharedContents | None = None,
    ) -> None:
        self.namespaces: dict[Namespace, NsState] = {}
        self.files = 0
        self.analyses = 0
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.stale_analyses_dropped = 0
        # Counted here, under this shard's lock, so that expiries on two
        # stripes at once cannot lose a count.
        self.expirations = 0
        self._sink = sink
        self._contents = contents if contents is not None else SharedContents(0)
        self._share_min = self._contents.min_bytes
        # Content bytes of the files whose content is shared (``contents``):
        # whole-store stats count those once, through the index, instead.
        self.shared_bytes = 0
        self._last_wall_ns = 0
        self._heads: list[tuple[int, int, NsState]] = []
        self._seq = itertools.count()
        if history is None:
            default = Budgets()
            history = History(
                max_revisions=default.watch_history_revisions,
                max_events=default.watch_history_events,
            )
        self.history = history
        # The last revision issued; at first, the clock's: whatever a store
        # before this one issued (a restarted server's) is below it, and so is
        # the history's floor, so a watcher resuming from then is told of the gap.
        self.revision = next_revision(0, wall_clock())
        self.history.forgotten = max(self.history.forgotten, self.revision)
        self._wall_clock = wall_clock
        # The fields of the events of the revision not yet committed (``RawEvent``).
        self._open: list[int | str | bytes] | None = None
        self._open_ns: Namespace = None

    # -- revisions -----------------------------------------------------------

    def commit(self) -> int:
        """Seal the events noted since the last commit into one revision; the shard's revision.

        Call before releasing the lock, after every call that may change.
        """
        if self._open is not None:
            self.history.append(self._open_ns, (self.revision, *self._open))
            self._open = None
        return self.revision

    def _note(self, ns: Namespace, event: RawEvent) -> None:
        if self._open is not None and self._open_ns != ns:
            self.commit()  # another namespace's change: its own revision
        if self._open is None:
            self.revision = next_revision(self.revision, self._wall_clock())
            self._open, self._open_ns = [], ns
        self._open.extend(event)

    # -- writes --------------------------------------------------------------

    def put_file(
        self,
        ns: Namespace,
        write: FileWrite,
        sha256: bytes,
        head: bytes,
        tick: int,
        wall_ns: int,
        *,
        version: int,
    ) -> FileMetadata:
        """Store ``write``; ``head`` is its ``wire.metadata_head``, encoded before locking."""
        state = self._state(ns)
        path = write.path
        self._drop_analyses_not_from(state, path, sha256)
        cached_at = self._cached_at(wall_ns)
        record = records.new_file(
            self._contents.share(write.content),
            tick=tick,
            tail=head + wire.metadata_stamp(cached_at, version),
            label_bytes=label_charge(write.labels),
        )
        self._insert(state, path, record, tick)
        self._note(ns, raw_event(EventKind.FILE_CACHED, path, sha256, version))
        labels = write.labels or _NO_LABELS
        size = len(write.content)
        return new_metadata(
            path, size, sha256, write.mtime_ns, cached_at, labels, version, self.revision
        )

    def put_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes, tick: int, wall_ns: int
    ) -> CachedAnalysis:
        state = self._state(ns)
        file = state.entries.get(path)
        cached_at = self._cached_at(wall_ns)
        record = records.new_analysis(
            result,
            source=records.file_sha256(file) if file is not None else None,
            cached_at_ns=cached_at,
            tick=tick,
        )
        self._insert(state, (path, analysis_type), record, tick)
        self._note(ns, raw_event(EventKind.ANALYSIS_CACHED, path, analysis_type=analysis_type))
        return CachedAnalysis(result, cached_at, self.revision)

    # -- reads ---------------------------------------------------------------

    def get_file(self, ns: Namespace, path: str, tick: int) -> WireFile | None:
        """A file; refreshes its recency and counts a hit or a miss."""
        record = self._read(ns, path, tick, records.file_with_tick)
        return records.wire_file(record) if record is not None else None

    def get_metadata_tail(self, ns: Namespace, path: str, tick: int) -> bytes | None:
        record = self._read(ns, path, tick)
        return records.file_tail(record) if record is not None else None

    def get_analysis(
        self, ns: Namespace, path: str, analysis_type: str, tick: int
    ) -> CachedAnalysis | None:
        record = self._read(ns, (path, analysis_type), tick)
        return records.cached_analysis(record) if record is not None else None

    def current_file(self, ns: Namespace, path: str) -> tuple[int, bytes]:
        """The version and digest of the file at ``path`` (0 and empty: none).

        For preconditions: not a read, so neither recency nor hits change.
        """
        state = self.namespaces.get(ns)
        record = state.entries.get(path) if state is not None else None
        if record is None:
            return 0, b""
        return wire.tail_version(records.file_tail(record)), records.file_sha256(record)

    def list_files(self, ns: Namespace, prefix: str, after: str | None, limit: int) -> Listing:
        """Up to ``limit`` files under ``prefix``, after the path ``after``, in path order.

        Looks at ``limit * LIST_LOOKS`` paths at most: paths holding only
        analyses are passed over, so a page may come back short, with where to
        go on. Not a read: no hit, no recency.
        """
        state = self.namespaces.get(ns)
        if state is None:
            return Listing([], None, self.revision)
        found: list[tuple[str, bytes]] = []
        looks, last = limit * LIST_LOOKS, None
        start = (prefix, (True, True)) if after is None else (after, (False, True))
        for path in state.paths.irange(minimum=start[0], inclusive=start[1]):
            if not path.startswith(prefix):
                break
            if len(found) == limit or looks == 0:
                return Listing(found, last, self.revision)
            record = state.entries.get(path)
            if record is not None:
                found.append((path, records.file_tail(record)))
            last, looks = path, looks - 1
        return Listing(found, None, self.revision)

    # -- removals ------------------------------------------------------------

    def remove_prefix(self, ns: Namespace, prefix: str) -> Removed:
        """Remove every file and analysis under ``prefix``: O(what it removes x log n)."""
        state = self.namespaces.get(ns)
        if state is None:
            return Removed()
        under = state.paths.irange(minimum=prefix)
        files = analyses = 0
        for path in list(takewhile(lambda p: p.startswith(prefix), under)):
            files += self._remove(state, path, Change.INVALIDATED) is not None
            analyses += self.remove_analyses(ns, path, None)
        return Removed(files, analyses)

    def remove_file(self, ns: Namespace, path: str) -> Removed:
        state = self.namespaces.get(ns)
        if state is None:
            return Removed()
        files = 1 if self._remove(state, path, Change.INVALIDATED) is not None else 0
        return Removed(files, self.remove_analyses(ns, path, None))

    def remove_analyses(self, ns: Namespace, path: str, analysis_type: str | None) -> int:
        state = self.namespaces.get(ns)
        types = state.analysis_types.get(path) if state is not None else None
        if not types:
            return 0
        assert state is not None
        chosen = list(types) if analysis_type is None else [analysis_type]
        return sum(self._remove(state, (path, t), Change.INVALIDATED) is not None for t in chosen)

    def drop_namespace(self, ns: Namespace, cause: Change) -> Removed:
        """Remove a namespace, entries and counters (``CLEARED`` or ``EXPIRED``).

        O(its entries), nothing else: each goes through ``_remove`` like any
        other removal, so the sink sees every one.
        """
        if cause is Change.EXPIRED:  # even a session that never stored an entry
            self.expirations += 1
        state = self.namespaces.pop(ns, None)
        if state is None:
            return Removed()
        state.dropped = True  # its ``_heads`` item, if any, is now void
        files, analyses = state.files, state.analyses
        for key in list(state.entries):
            self._remove(state, key, cause)
        self._note(ns, raw_event(_SESSION_GONE[cause]))
        return Removed(files, analyses, self.commit())

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
        self._remove(state, next(iter(state.entries)), Change.EVICTED)
        self.evictions += 1
        state.evictions += 1

    # -- accounting ----------------------------------------------------------

    def usage(self, ns: Namespace) -> tuple[int, int]:
        """(bytes, entries) of ``ns``."""
        state = self.namespaces.get(ns)
        return (state.bytes, len(state.entries)) if state is not None else (0, 0)

    def stats(self) -> Stats:
        """Counters of the whole shard; ``sessions`` is left to the caller."""
        return Stats(
            files=self.files,
            analyses=self.analyses,
            bytes=self.bytes,
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            expirations=self.expirations,
            stale_analyses_dropped=self.stale_analyses_dropped,
        )

    def namespace_stats(self, ns: Namespace) -> Stats:
        s = self.namespaces.get(ns)
        if s is None:
            return Stats()
        return Stats(
            files=s.files,
            analyses=s.analyses,
            bytes=s.bytes,
            hits=s.hits,
            misses=s.misses,
            evictions=s.evictions,
            stale_analyses_dropped=s.stale_analyses_dropped,
        )

    # -- internals -----------------------------------------------------------

    def _state(self, ns: Namespace) -> NsState:
        state = self.namespaces.get(ns)
        if state is None:
            state = self.namespaces[ns] = NsState(ns)
        return state

    def _cached_at(self, wall_ns: int) -> int:
        # Two writes in sequence must read as ordered even if the wall clock
        # stalls or steps back; a namespace always lives in one shard. A whole
        # microsecond apart, so clients holding microsecond datetimes agree.
        self._last_wall_ns = max(wall_ns, self._last_wall_ns + 1000)
        return self._last_wall_ns

    def _read(
        self,
        ns: Namespace,
        key: Key,
        tick: int,
        touch: Callable[[Record, int], Record] | None = None,
    ) -> Record | None:
        """The record at ``key``, made the most recent at ``tick``; counts a hit or a miss.

        A miss in a namespace the shard does not hold counts store-wide only:
        a read never creates a namespace. Every read comes through here; a
        read changes recency only, so it is not a ``Change``. ``touch``, the
        key kind's own ``with_tick``, saves the hottest read a type test.
        """
        state = self.namespaces.get(ns)
        if state is None:
            self.misses += 1
            return None
        entries = state.entries
        record = entries.get(key)
        if record is None:
            self.misses += 1
            state.misses += 1
            return None
        self.hits += 1
        state.hits += 1
        if touch is None:
            record = entries[key] = records.with_tick(key, record, tick)
        else:
            record = entries[key] = touch(record, tick)
        entries.move_to_end(key)
        return record

    def _insert(self, state: NsState, key: Key, record: Record, tick: int) -> None:
        """Store ``record`` at ``key`` as the namespace's most recent entry: every insert."""
        entries = state.entries
        old = entries.pop(key, None)
        if old is not None:
            self._account(state, key, old, -1)
            if isinstance(key, str):
                self._contents.release(old[0])
        entries[key] = record
        self._account(state, key, record, +1)
        if old is None:  # a new entry: perhaps a new path
            if isinstance(key, str):
                if key not in state.analysis_types:
                    state.paths.add(key)
            else:
                path, kind = key
                types = state.analysis_types.get(path)
                if types is None:
                    state.analysis_types[path] = {kind}
                    if path not in entries:
                        state.paths.add(path)
                else:
                    types.add(kind)
        if not state.queued:
            state.queued = True
            self._push_head(state, tick)
        if self._sink is not None:
            self._sink(state.ns, key, Change.STORED)

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

    def _remove(self, state: NsState, key: Key, cause: Change) -> Record | None:
        """Remove the entry at ``key``, if any: every removal, whatever its cause."""
        record = state.entries.pop(key, None)
        if record is None:
            return None
        self._account(state, key, record, -1)
        if isinstance(key, str):
            self._contents.release(record[0])
            path = key
        else:
            path, kind = key
            types = state.analysis_types[path]
            types.discard(kind)
            if not types:
                del state.analysis_types[path]
        # A dropped namespace goes whole: its index with it, not path by path.
        if not state.dropped and path not in state.entries and path not in state.analysis_types:
            state.paths.remove(path)
        if self._sink is not None:
            self._sink(state.ns, key, cause)
        if isinstance(key, str):
            gone = _FILE_REMOVED.get(cause)
            if gone is not None:
                self._note(state.ns, raw_event(gone, key))
        else:
            reason = _ANALYSIS_REMOVED.get(cause)
            if reason is not None:
                self._note(
                    state.ns,
                    raw_event(
                        EventKind.ANALYSIS_REMOVED, key[0], analysis_type=key[1], reason=reason
                    ),
                )
        return record

    def _account(self, state: NsState, key: Key, record: Record, sign: int) -> None:
        charge = sign * records.charge(key, record)
        state.bytes += charge
        self.bytes += charge
        if isinstance(key, str):
            state.files += sign
            self.files += sign
            size = len(record[0])
            if 0 < self._share_min <= size:  # ``contents.shares``, inline on every write
                self.shared_bytes += sign * size
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
            key = (path, analysis_type)
            if records.analysis_source(state.entries[key]) != sha256:
                self._remove(state, key, Change.STALE)
                self.stale_analyses_dropped += 1
                state.stale_analyses_dropped += 1
