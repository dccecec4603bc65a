"""The in-memory backend: shards behind striped locks, one namespace per shard.

Beyond what every backend promises (``Store``), this one promises:

- **Exact store-wide LRU.** Over the total budget, the least recently used
  entry of the whole store goes first, across namespaces and stripes (a
  store-wide tick orders every use).
- **Stripes.** A namespace lives in one stripe, so calls on different
  namespaces rarely wait for each other and clearing or expiring a session
  costs O(its own entries), whatever else is stored.
- **Compact entries.** About 380 bytes of bookkeeping per cached file, in
  records the cyclic GC does not track (``records``).
- **Shared contents.** A content of ``share_min_bytes`` or more is held once
  however many entries, in any namespaces, hold it (``contents``): budgets
  and stats still charge each entry in full; ``store_stats().held_bytes``
  counts each such content once.

A namespace hashes to one stripe, and every operation on it (batches,
``clear_session`` and idle expiry included) holds that stripe's lock alone:
clearing or expiring a session never waits for, nor scans, the other stripes.

Lock order, the one rule that keeps multi-lock operations deadlock-free:

1. ``_evict_lock`` is taken before any stripe lock, never while holding one;
2. at most one stripe lock is held at a time;
3. the shared contents' lock (``contents``) is taken last, for one dict
   operation, and nothing is taken while it is held.

Only total-budget eviction and whole-store stats visit several stripes, one
after the other. Nothing global is locked on the hot path: the tick is an
``itertools.count`` (atomic under the GIL) and the session registry is a dict
whose entry for a namespace is written only under that namespace's stripe
lock. Hashing and digests happen before locking.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from contextstore.server import wire
from contextstore.server.errors import FieldViolation, InvalidArgument, PreconditionFailed
from contextstore.server.store.base import (
    Budgets,
    CachedAnalysis,
    Expect,
    FileMetadata,
    FileWrite,
    Listing,
    Namespace,
    Removed,
    Stats,
    Store,
    analysis_charge,
    check_fits,
    file_charge,
)
from contextstore.server.store.contents import SharedContents
from contextstore.server.store.events import Cursor
from contextstore.server.store.history import History, HistoryCursor
from contextstore.server.store.namespace import Change, ChangeSink
from contextstore.server.store.shard import Shard
from contextstore.server.wire import WireFile


@dataclass(slots=True)
class _Session:
    last_access: float


_BYTES = operator.attrgetter("bytes")


class StripedStore(Store):
    """A thread-safe in-memory ``Store``; see the module docstring for locking."""

    backend = "memory"

    def __init__(
        self,
        *,
        stripes: int = 64,
        budgets: Budgets | None = None,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = time.time_ns,
        sink: ChangeSink | None = None,
    ) -> None:
        """``sink``, if given, is told of every change under its stripe lock."""
        if stripes < 1:
            raise ValueError("stripes must be at least 1")
        self._budgets = budgets or Budgets()
        per_stripe = -(-self._budgets.watch_history_events // stripes)
        self._contents = SharedContents(self._budgets.share_min_bytes)
        self._shards = [
            Shard(
                sink,
                history=History(
                    max_revisions=self._budgets.watch_history_revisions, max_events=per_stripe
                ),
                wall_clock=wall_clock,
                contents=self._contents,
            )
            for _ in range(stripes)
        ]
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._evict_lock = threading.Lock()
        # Under _evict_lock: (stripe, tick) where the stripe's oldest entry,
        # if older than tick, is the store's oldest (see _evict_one_total).
        self._evict_hint: tuple[int, float] | None = None
        self._sessions: dict[Namespace, _Session] = {}
        self._ticks = itertools.count(1)
        # Versions count writes only, so a version says nothing of reads.
        self._versions = itertools.count(1)
        self._timer = timer
        self._wall_clock = wall_clock

    @property
    def stripes(self) -> int:
        return len(self._shards)

    @property
    def properties(self) -> Mapping[str, str]:
        return {
            "stripes": str(self.stripes),
            "eviction": "exact store-wide LRU",
            "shared_contents": f"contents of {self._budgets.share_min_bytes} bytes or more, "
            "held once store-wide"
            if self._budgets.share_min_bytes
            else "none: each entry holds its own",
        }

    # -- files ---------------------------------------------------------------

    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata:
        return self.batch_cache_files(ns, [write])[0]

    def batch_cache_files(self, ns: Namespace, writes: Sequence[FileWrite]) -> list[FileMetadata]:
        check_fits(self._budgets, sum(file_charge(w) for w in writes), len(writes))
        expects = [(w.path, w.expect) for w in writes if w.expect is not None]
        digests = [hashlib.sha256(w.content).digest() for w in writes]
        # Encoded here, unlocked; the shard adds cached_at and version (``wire``).
        heads = [
            wire.metadata_head(len(w.content), d, w.mtime_ns, w.labels)
            for w, d in zip(writes, digests, strict=True)
        ]
        i = self._stripe(ns)
        shard, ticks, versions, wall = (
            self._shards[i],
            self._ticks,
            self._versions,
            self._wall_clock,
        )
        with self._locks[i]:
            if expects:  # every item tested before any is stored, same lock hold
                self._enter(ns, i, create=False)
                self._check(ns, i, expects)
            # An empty batch stores nothing, so it must not create the session
            # (a namespace exists only while it holds state); it still counts
            # as use of one that exists.
            self._enter(ns, i, create=bool(writes))
            metas = [
                shard.put_file(ns, w, d, h, next(ticks), wall(), version=next(versions))
                for w, d, h in zip(writes, digests, heads, strict=True)
            ]
            shard.commit()
        self._enforce_budgets(ns, i)
        return metas

    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        i = hash(ns) % len(self._shards)  # ``_stripe``, inline on the hottest read
        with self._locks[i]:
            self._enter(ns, i, create=False)
            return self._shards[i].get_file(ns, path, next(self._ticks))

    def get_metadata_wire(self, ns: Namespace, path: str) -> bytes | None:
        i = self._stripe(ns)
        with self._locks[i]:
            self._enter(ns, i, create=False)
            return self._shards[i].get_metadata_tail(ns, path, next(self._ticks))

    def batch_get_files_wire(self, ns: Namespace, paths: Sequence[str]) -> list[WireFile | None]:
        i = self._stripe(ns)
        shard, ticks = self._shards[i], self._ticks
        with self._locks[i]:
            self._enter(ns, i, create=False)
            return [shard.get_file(ns, p, next(ticks)) for p in paths]

    # -- analyses ------------------------------------------------------------

    def cache_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes,
        *, expect: Expect | None = None,
    ) -> CachedAnalysis:  # fmt: skip
        check_fits(self._budgets, analysis_charge(path, analysis_type, result), 1)
        i = self._stripe(ns)
        with self._locks[i]:
            if expect is not None:
                self._enter(ns, i, create=False)
                self._check(ns, i, [(path, expect)])
            self._enter(ns, i, create=True)
            analysis = self._shards[i].put_analysis(
                ns, path, analysis_type, result, next(self._ticks), self._wall_clock()
            )
            self._shards[i].commit()
        self._enforce_budgets(ns, i)
        return analysis

    def get_analysis(self, ns: Namespace, path: str, analysis_type: str) -> CachedAnalysis | None:
        i = self._stripe(ns)
        with self._locks[i]:
            self._enter(ns, i, create=False)
            return self._shards[i].get_analysis(ns, path, analysis_type, next(self._ticks))

    # -- removals ------------------------------------------------------------

    def invalidate_file(self, ns: Namespace, path: str, *, expect: Expect | None = None) -> Removed:
        i = self._stripe(ns)
        with self._locks[i]:
            self._enter(ns, i, create=False)
            if expect is not None:
                self._check(ns, i, [(path, expect)])
            removed = self._shards[i].remove_file(ns, path)
            return Removed(removed.files, removed.analyses, self._shards[i].commit())

    def invalidate_analysis(self, ns: Namespace, path: str, analysis_type: str | None) -> Removed:
        i = self._stripe(ns)
        with self._locks[i]:
            self._enter(ns, i, create=False)
            count = self._shards[i].remove_analyses(ns, path, analysis_type)
            return Removed(0, count, self._shards[i].commit())

    def invalidate_prefix(self, ns: Namespace, prefix: str) -> Removed:
        i = self._stripe(ns)
        with self._locks[i]:
            self._enter(ns, i, create=False)
            removed = self._shards[i].remove_prefix(ns, prefix)
            return Removed(removed.files, removed.analyses, self._shards[i].commit())

    def list_files(self, ns: Namespace, prefix: str, after: str | None, limit: int) -> Listing:
        i = self._stripe(ns)
        with self._locks[i]:
            self._enter(ns, i, create=False)
            return self._shards[i].list_files(ns, prefix, after, limit)

    def clear_session(self, ns: Namespace) -> Removed:
        i = self._stripe(ns)
        with self._locks[i]:
            # An idle session is already gone, whichever access finds it first.
            self._expire_locked(ns, i, self._timer())
            if ns not in self._sessions:  # nothing to clear: no change, no revision
                return Removed(0, 0, self._shards[i].revision)
            return self._drop(ns, i, Change.CLEARED)

    def revision(self, ns: Namespace) -> int:
        i = self._stripe(ns)
        with self._locks[i]:
            return self._shards[i].revision

    def watch(self, ns: Namespace, after: int) -> Cursor:
        i = self._stripe(ns)
        shard = self._shards[i]
        with self._locks[i]:
            current = shard.revision
            if after > current:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "start_revision", f"{after} is ahead of the revision, {current}"
                        )
                    ]
                )
            start = after or current
            backlog = shard.history.since(ns, start, current)  # raises if compacted
            return HistoryCursor(
                shard.history, ns, self._locks[i], lambda: shard.revision, start, backlog
            )

    # -- sessions and stats --------------------------------------------------

    def expire_idle(self) -> int:
        self._contents.sweep()  # the periodic sweep: contents a reader kept past their release
        if self._budgets.session_ttl_seconds <= 0:
            return 0
        return sum(self._expire(ns) for ns in list(self._sessions))

    def stats(self, ns: Namespace) -> Stats:
        i = self._stripe(ns)
        with self._locks[i]:
            self._expire_locked(ns, i, self._timer())
            part = self._shards[i].namespace_stats(ns)
            return _sum_stats([part], int(ns in self._sessions))

    def store_stats(self) -> Stats:
        self.expire_idle()
        parts, shared = [], 0
        for shard, lock in zip(self._shards, self._locks, strict=True):
            with lock:
                parts.append(shard.stats())
                shared += shard.shared_bytes
        total = _sum_stats(parts, len(self._sessions))
        held = total.bytes - shared + self._contents.held_bytes()
        return dataclasses.replace(total, held_bytes=held)

    # -- sessions ------------------------------------------------------------

    def _check(self, ns: Namespace, stripe: int, expects: Sequence[tuple[str, Expect]]) -> None:
        """Raise ``PreconditionFailed`` for the first file not as expected; hold its lock."""
        shard = self._shards[stripe]
        for path, expect in expects:
            version, sha256 = shard.current_file(ns, path)
            if not expect.holds(version, sha256):
                raise PreconditionFailed(path, version, sha256)

    def _stripe(self, ns: Namespace) -> int:
        return hash(ns) % len(self._shards)

    def _enter(self, ns: Namespace, stripe: int, *, create: bool) -> None:
        """Expire ``ns`` if it is idle, then mark it active, creating it if ``create``.

        Call holding its stripe lock. Every call that uses a namespace starts
        here, so expiry and the touch share one lock hold and one clock read.
        Only a call that stores an entry at once (same lock hold) creates: so a
        session is registered exactly while its shard holds its state. (Every
        read comes here: the expiry test is ``_is_idle`` spelled out.)
        """
        now = self._timer()
        session = self._sessions.get(ns)
        if session is not None:
            ttl = self._budgets.session_ttl_seconds
            if ns is None or ttl <= 0 or now - session.last_access < ttl:
                if now > session.last_access:
                    session.last_access = now
                return
            self._drop(ns, stripe, Change.EXPIRED)
        if create:
            self._sessions[ns] = _Session(now)

    def _is_idle(self, ns: Namespace, session: _Session, now: float) -> bool:
        ttl = self._budgets.session_ttl_seconds
        return ns is not None and ttl > 0 and now - session.last_access >= ttl

    def _expire(self, ns: Namespace) -> int:
        """Expire ``ns`` if it is idle; returns 1 if it did, else 0."""
        session = self._sessions.get(ns)
        # A look without the lock first: the sweeper asks of every session.
        if session is None or not self._is_idle(ns, session, self._timer()):
            return 0
        i = self._stripe(ns)
        with self._locks[i]:
            return int(self._expire_locked(ns, i, self._timer()))

    def _expire_locked(self, ns: Namespace, stripe: int, now: float) -> bool:
        """Drop ``ns`` if it is idle at ``now``. Call holding its stripe lock."""
        session = self._sessions.get(ns)
        if session is None or not self._is_idle(ns, session, now):
            return False
        self._drop(ns, stripe, Change.EXPIRED)
        return True

    def _drop(self, ns: Namespace, stripe: int, cause: Change) -> Removed:
        """Remove a namespace. Call holding its stripe lock."""
        self._sessions.pop(ns, None)
        return self._shards[stripe].drop_namespace(ns, cause)

    # -- budgets -------------------------------------------------------------

    def _enforce_budgets(self, ns: Namespace, stripe: int) -> None:
        b = self._budgets
        if b.session_bytes or b.session_entries:
            self._enforce_session(ns, stripe)
        if b.total_bytes and self._over_total():
            # Idle sessions are already dead; free their bytes before evicting
            # anything a live session may still read. (The common case, under
            # budget, costs one sum.)
            self.expire_idle()
            if self._over_total():
                with self._evict_lock:
                    while self._over_total() and self._evict_one_total():
                        pass

    def _enforce_session(self, ns: Namespace, stripe: int) -> None:
        """Evict ``ns``'s least recently used entries while it is over budget.

        One stripe holds the whole namespace, so its lock alone makes
        concurrent writers take turns: together they evict no more than needed.
        """
        b = self._budgets
        shard = self._shards[stripe]
        with self._locks[stripe]:
            while True:
                used, count = shard.usage(ns)
                over_bytes = b.session_bytes and used > b.session_bytes
                if not (over_bytes or (b.session_entries and count > b.session_entries)):
                    shard.commit()
                    return
                shard.evict_oldest(ns, in_namespace=True)

    def _over_total(self) -> bool:
        # Every write asks: map and attrgetter keep the sum in C.
        used: int = sum(map(_BYTES, self._shards))
        return used > self._budgets.total_bytes

    def _evict_one_total(self) -> bool:
        """Evict the store's least recently used entry; False when there is none.

        Call holding ``_evict_lock``, which makes concurrent writers take turns
        so that together they never evict more than the budget needs. Finding
        the oldest entry takes a look at every stripe's oldest; the hint saves
        that scan while one stripe's oldest stays older than both the
        runner-up's tick and the first tick issued after the scan. That is
        sound because a stripe's oldest tick only ever grows (reads refresh,
        removals drop) and entries written since take newer ticks.
        """
        hint = self._evict_hint
        if hint is not None and self._evict_from(hint[0], below=hint[1]):
            return True
        # Entries written after the scan take ticks from here on, so this
        # bounds every stripe the scan finds empty (or refreshed) too.
        issued = next(self._ticks)
        heads: list[tuple[float, int]] = []
        for i, (shard, lock) in enumerate(zip(self._shards, self._locks, strict=True)):
            with lock:
                tick = shard.oldest_tick()
            if tick is not None:
                heads.append((tick, i))
        if not heads:
            return False
        heads.sort()
        oldest, i = heads[0]
        self._evict_hint = (i, min(heads[1][0] if len(heads) > 1 else math.inf, issued))
        # A reader may have refreshed it meanwhile; then the caller looks again.
        self._evict_from(i, below=oldest + 1)
        return True

    def _evict_from(self, stripe: int, *, below: float) -> bool:
        """Evict the stripe's oldest entry if its tick is under ``below``."""
        shard = self._shards[stripe]
        with self._locks[stripe]:
            tick = shard.oldest_tick()
            if tick is None or tick >= below:
                return False
            shard.evict_oldest()
            shard.commit()
            return True


def _sum_stats(parts: list[Stats], sessions: int) -> Stats:
    return Stats(
        files=sum(p.files for p in parts),
        analyses=sum(p.analyses for p in parts),
        bytes=sum(p.bytes for p in parts),
        sessions=sessions,
        hits=sum(p.hits for p in parts),
        misses=sum(p.misses for p in parts),
        evictions=sum(p.evictions for p in parts),
        expirations=sum(p.expirations for p in parts),
        stale_analyses_dropped=sum(p.stale_analyses_dropped for p in parts),
    )
