"""The in-memory backend: shards behind striped locks.

Lock order, the one rule that keeps multi-lock operations deadlock-free:

1. ``_evict_lock`` is taken before any stripe lock, never while holding one;
2. stripe locks are taken in ascending stripe index.

Single-path calls take one stripe lock; batches take their stripes in ascending
order; ``clear_session`` and expiry take every stripe, so no reader ever sees a
half-cleared namespace. Nothing global is locked on the hot path: the tick is an
``itertools.count`` (atomic under the GIL) and the session registry is a dict
written only under stripe locks. Hashing and digests happen before locking.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from contextstore.server.errors import QuotaExceeded
from contextstore.server.store.base import (
    Budgets,
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FileWrite,
    Namespace,
    Removed,
    Stats,
    Store,
    analysis_charge,
    file_charge,
)
from contextstore.server.store.shard import AnalysisEntry, FileEntry, Shard


@dataclass(slots=True)
class _Session:
    last_access: float


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
    ) -> None:
        if stripes < 1:
            raise ValueError("stripes must be at least 1")
        self._shards = [Shard() for _ in range(stripes)]
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._evict_lock = threading.Lock()
        self._sessions: dict[Namespace, _Session] = {}
        self._ticks = itertools.count(1)
        # Versions count writes only, so a version says nothing of reads.
        self._versions = itertools.count(1)
        self._expirations = 0
        self._budgets = budgets or Budgets()
        self._timer = timer
        self._wall_clock = wall_clock

    @property
    def stripes(self) -> int:
        return len(self._shards)

    # -- files ---------------------------------------------------------------

    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata:
        return self.batch_cache_files(ns, [write])[0]

    def batch_cache_files(self, ns: Namespace, writes: Sequence[FileWrite]) -> list[FileMetadata]:
        self._check_fits(sum(file_charge(w) for w in writes), len(writes))
        digests = [hashlib.sha256(w.content).digest() for w in writes]
        self._expire_if_idle(ns)
        with self._locked(self._stripe(ns, w.path) for w in writes):
            self._touch(ns, create=True)
            metas = [
                self._shard(ns, w.path).put_file(
                    ns, w, d, next(self._ticks), self._wall_clock(), version=next(self._versions)
                )
                for w, d in zip(writes, digests, strict=True)
            ]
        self._enforce_budgets(ns)
        return metas

    def get_file(self, ns: Namespace, path: str) -> CachedFile | None:
        return self.batch_get_files(ns, [path])[0]

    def get_metadata(self, ns: Namespace, path: str) -> FileMetadata | None:
        found = self.get_file(ns, path)
        return found.metadata if found is not None else None

    def batch_get_files(self, ns: Namespace, paths: Sequence[str]) -> list[CachedFile | None]:
        self._expire_if_idle(ns)
        with self._locked(self._stripe(ns, p) for p in paths):
            known = self._touch(ns, create=False)
            entries = [
                self._shard(ns, p).get(ns, (p, None), next(self._ticks), known) for p in paths
            ]
        return [e.file if isinstance(e, FileEntry) else None for e in entries]

    # -- analyses ------------------------------------------------------------

    def cache_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes
    ) -> CachedAnalysis:
        self._check_fits(analysis_charge(path, analysis_type, result), 1)
        self._expire_if_idle(ns)
        with self._locked([self._stripe(ns, path)]):
            self._touch(ns, create=True)
            shard = self._shard(ns, path)
            analysis = shard.put_analysis(
                ns, path, analysis_type, result, next(self._ticks), self._wall_clock()
            )
        self._enforce_budgets(ns)
        return analysis

    def get_analysis(self, ns: Namespace, path: str, analysis_type: str) -> CachedAnalysis | None:
        self._expire_if_idle(ns)
        with self._locked([self._stripe(ns, path)]):
            known = self._touch(ns, create=False)
            entry = self._shard(ns, path).get(ns, (path, analysis_type), next(self._ticks), known)
        return entry.analysis if isinstance(entry, AnalysisEntry) else None

    # -- removals ------------------------------------------------------------

    def invalidate_file(self, ns: Namespace, path: str) -> Removed:
        self._expire_if_idle(ns)
        with self._locked([self._stripe(ns, path)]):
            self._touch(ns, create=False)
            return self._shard(ns, path).remove_file(ns, path)

    def invalidate_analysis(self, ns: Namespace, path: str, analysis_type: str | None) -> int:
        self._expire_if_idle(ns)
        with self._locked([self._stripe(ns, path)]):
            self._touch(ns, create=False)
            return self._shard(ns, path).remove_analyses(ns, path, analysis_type)

    def clear_session(self, ns: Namespace) -> Removed:
        # An idle session is already gone, whichever access finds it first.
        self._expire_if_idle(ns)
        with self._locked(range(len(self._shards))):
            return self._drop(ns)

    # -- sessions and stats --------------------------------------------------

    def expire_idle(self) -> int:
        if self._budgets.session_ttl_seconds <= 0:
            return 0
        return sum(self._expire_if_idle(ns) for ns in list(self._sessions))

    def stats(self, ns: Namespace, *, whole_store: bool = False) -> Stats:
        if whole_store:
            self.expire_idle()
        else:
            self._expire_if_idle(ns)
        parts = []
        for shard, lock in zip(self._shards, self._locks, strict=True):
            with lock:
                parts.append(shard.stats(ns, whole_shard=whole_store))
        sessions = len(self._sessions) if whole_store else int(ns in self._sessions)
        return Stats(
            files=sum(p.files for p in parts),
            analyses=sum(p.analyses for p in parts),
            bytes=sum(p.bytes for p in parts),
            sessions=sessions,
            hits=sum(p.hits for p in parts),
            misses=sum(p.misses for p in parts),
            evictions=sum(p.evictions for p in parts),
            expirations=self._expirations if whole_store else 0,
        )

    # -- locking -------------------------------------------------------------

    def _stripe(self, ns: Namespace, path: str) -> int:
        return hash((ns, path)) % len(self._shards)

    def _shard(self, ns: Namespace, path: str) -> Shard:
        return self._shards[self._stripe(ns, path)]

    @contextmanager
    def _locked(self, stripes: Iterable[int]) -> Iterator[None]:
        """Hold the given stripes' locks, taken in ascending order."""
        locks = [self._locks[i] for i in sorted(set(stripes))]
        for taken, lock in enumerate(locks):
            try:
                lock.acquire()
            except BaseException:
                for held in locks[:taken]:
                    held.release()
                raise
        try:
            yield
        finally:
            for lock in locks:
                lock.release()

    # -- sessions ------------------------------------------------------------

    def _touch(self, ns: Namespace, *, create: bool) -> bool:
        """Mark ``ns`` active; returns whether it exists. Call under a stripe lock."""
        now = self._timer()
        session = self._sessions.get(ns)
        if session is None:
            if not create:
                return False
            session = self._sessions.setdefault(ns, _Session(now))
        session.last_access = max(session.last_access, now)
        return True

    def _is_idle(self, ns: Namespace, session: _Session) -> bool:
        ttl = self._budgets.session_ttl_seconds
        return ns is not None and ttl > 0 and self._timer() - session.last_access >= ttl

    def _expire_if_idle(self, ns: Namespace) -> int:
        session = self._sessions.get(ns)
        if session is None or not self._is_idle(ns, session):
            return 0
        with self._locked(range(len(self._shards))):
            # Re-check under every lock: another thread may have used,
            # cleared or expired the session since we looked.
            if self._sessions.get(ns) is not session or not self._is_idle(ns, session):
                return 0
            self._drop(ns)
            self._expirations += 1
            return 1

    def _drop(self, ns: Namespace) -> Removed:
        """Remove a namespace everywhere. Call holding every stripe lock."""
        removed = [shard.drop_namespace(ns) for shard in self._shards]
        self._sessions.pop(ns, None)
        return Removed(sum(r.files for r in removed), sum(r.analyses for r in removed))

    # -- budgets -------------------------------------------------------------

    def _check_fits(self, charge: int, entries: int) -> None:
        b = self._budgets
        for limit, budget, need in (
            ("total_bytes", b.total_bytes, charge),
            ("session_bytes", b.session_bytes, charge),
            ("session_entries", b.session_entries, entries),
        ):
            if budget and need > budget:
                raise QuotaExceeded(limit, f"needs {need}, more than the budget of {budget}")

    def _enforce_budgets(self, ns: Namespace) -> None:
        b = self._budgets
        if b.session_bytes or b.session_entries:
            self._evict_while(lambda: self._over_session_budget(ns), ns, in_namespace=True)
        if b.total_bytes:
            total = b.total_bytes

            def over_total() -> bool:
                return sum(s.bytes for s in self._shards) > total

            # Idle sessions are already dead; free their bytes before evicting
            # anything a live session may still read. (The common case, under
            # budget, costs one sum.)
            if over_total():
                self.expire_idle()
                self._evict_while(over_total, None)

    def _over_session_budget(self, ns: Namespace) -> bool:
        usage = [shard.usage(ns) for shard in self._shards]
        b = self._budgets
        over_bytes = b.session_bytes and sum(u[0] for u in usage) > b.session_bytes
        over_entries = b.session_entries and sum(u[1] for u in usage) > b.session_entries
        return bool(over_bytes or over_entries)

    def _evict_while(
        self, over: Callable[[], bool], ns: Namespace, *, in_namespace: bool = False
    ) -> None:
        """Evict least recently used entries, one at a time, while ``over()``.

        The eviction lock makes concurrent writers take turns, so together
        they never evict more than the budget needs.
        """
        if not over():
            return
        with self._evict_lock:
            while over() and self._evict_one(ns, in_namespace=in_namespace):
                pass

    def _evict_one(self, ns: Namespace, *, in_namespace: bool) -> bool:
        """Evict the least recently used entry; False when there is none."""
        heads: list[tuple[int, int]] = []
        for i, (shard, lock) in enumerate(zip(self._shards, self._locks, strict=True)):
            with lock:
                tick = shard.oldest_tick(ns, in_namespace=in_namespace)
            if tick is not None:
                heads.append((tick, i))
        if not heads:
            return False
        tick, i = min(heads)
        with self._locks[i]:
            # A reader may have refreshed it meanwhile; then look again.
            if self._shards[i].oldest_tick(ns, in_namespace=in_namespace) == tick:
                self._shards[i].evict_oldest(ns, in_namespace=in_namespace)
        return True
