"""The cache's own metrics: hits and misses per RPC, backend calls, and the store's counts.

No label is ever a session id or a path: those are unbounded, and one series
per value would grow the registry (and every scrape) without limit. Labels
here take only names fixed in this module: RPCs, store operations, backends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contextstore.server.errors import BackendUnavailable
from contextstore.server.observability.metrics import LATENCY_BUCKETS
from contextstore.server.store.base import (
    CachedAnalysis,
    Expect,
    FileMetadata,
    FileWrite,
    Listing,
    Namespace,
    Removed,
    Stats,
    Store,
)
from contextstore.server.store.events import Cursor
from contextstore.server.wire import WireFile

T = TypeVar("T")
READ_RPCS = ("GetFile", "GetMetadata", "GetAnalysis", "BatchGetFiles")


def watch(store: Store, registry: CollectorRegistry) -> Store:
    """``store`` counted in ``registry``: hits and misses, backend calls, its counts at scrape."""
    registry.register(StoreCollector(store))
    return MeteredStore(store, registry)


class MeteredStore(Store):
    """``inner``, counting hits and misses and, unless it is in memory, timing every call.

    The memory backend's calls take microseconds and cannot fail to reach
    their storage: timing them would cost more than it tells.
    """

    def __init__(self, inner: Store, registry: CollectorRegistry) -> None:
        self.inner = inner
        self.backend = inner.backend
        hits = Counter("contextstore_cache_hits_total", "Entries found, per RPC.", ("method",),
                       registry=registry)  # fmt: skip
        misses = Counter("contextstore_cache_misses_total", "Entries not found, per RPC.",
                         ("method",), registry=registry)  # fmt: skip
        self._hit = {rpc: hits.labels(rpc) for rpc in READ_RPCS}
        self._miss = {rpc: misses.labels(rpc) for rpc in READ_RPCS}
        self._timers: dict[str, tuple[Histogram, Counter]] = {}
        if inner.backend != "memory":
            self._timers = _timers(inner.backend, registry)

    def _run(self, operation: str, call: Callable[..., T], *args: Any) -> T:
        timer = self._timers.get(operation)
        if timer is None:  # the memory backend
            return call(*args)
        seconds, errors = timer
        start = time.perf_counter()
        try:
            return call(*args)
        except BackendUnavailable:
            errors.inc()
            raise
        finally:
            seconds.observe(time.perf_counter() - start)

    def _found(self, rpc: str, found: object) -> None:
        (self._miss if found is None else self._hit)[rpc].inc()

    @property
    def properties(self) -> Mapping[str, str]:
        return self.inner.properties

    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata:
        return self._run("cache_file", self.inner.cache_file, ns, write)

    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        found = self._run("get_file", self.inner.get_file_wire, ns, path)
        self._found("GetFile", found)
        return found

    def get_metadata_wire(self, ns: Namespace, path: str) -> bytes | None:
        found = self._run("get_metadata", self.inner.get_metadata_wire, ns, path)
        self._found("GetMetadata", found)
        return found

    def cache_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes,
        *, expect: Expect | None = None,
    ) -> CachedAnalysis:  # fmt: skip
        return self._run("cache_analysis", partial(self.inner.cache_analysis, expect=expect), ns,
                         path, analysis_type, result)  # fmt: skip

    def get_analysis(self, ns: Namespace, path: str, analysis_type: str) -> CachedAnalysis | None:
        found = self._run("get_analysis", self.inner.get_analysis, ns, path, analysis_type)
        self._found("GetAnalysis", found)
        return found

    def invalidate_file(self, ns: Namespace, path: str, *, expect: Expect | None = None) -> Removed:
        return self._run("invalidate_file", partial(self.inner.invalidate_file, expect=expect),
                         ns, path)  # fmt: skip

    def invalidate_analysis(self, ns: Namespace, path: str, analysis_type: str | None) -> Removed:
        return self._run("invalidate_analysis", self.inner.invalidate_analysis, ns, path,
                         analysis_type)  # fmt: skip

    def clear_session(self, ns: Namespace) -> Removed:
        return self._run("clear_session", self.inner.clear_session, ns)

    def list_files(self, ns: Namespace, prefix: str, after: str | None, limit: int) -> Listing:
        return self._run("list_files", self.inner.list_files, ns, prefix, after, limit)

    def invalidate_prefix(self, ns: Namespace, prefix: str) -> Removed:
        return self._run("invalidate_prefix", self.inner.invalidate_prefix, ns, prefix)

    def batch_get_files_wire(self, ns: Namespace, paths: Sequence[str]) -> list[WireFile | None]:
        found = self._run("batch_get_files", self.inner.batch_get_files_wire, ns, paths)
        misses = found.count(None)
        if misses:
            self._miss["BatchGetFiles"].inc(misses)
        if len(found) > misses:
            self._hit["BatchGetFiles"].inc(len(found) - misses)
        return found

    def batch_cache_files(self, ns: Namespace, writes: Sequence[FileWrite]) -> list[FileMetadata]:
        return self._run("batch_cache_files", self.inner.batch_cache_files, ns, writes)

    def revision(self, ns: Namespace) -> int:
        return self._run("revision", self.inner.revision, ns)

    def watch(self, ns: Namespace, after: int) -> Cursor:
        return self._run("watch", self.inner.watch, ns, after)

    def stats(self, ns: Namespace) -> Stats:
        return self._run("stats", self.inner.stats, ns)

    def store_stats(self) -> Stats:
        return self._run("store_stats", self.inner.store_stats)

    def expire_idle(self) -> int:
        return self._run("expire_idle", self.inner.expire_idle)

    def check(self) -> None:
        self._run("check", self.inner.check)

    def close(self) -> None:
        self.inner.close()


OPERATIONS = (
    "cache_file", "get_file", "get_metadata", "cache_analysis", "get_analysis",
    "invalidate_file", "invalidate_analysis", "clear_session", "batch_get_files",
    "batch_cache_files", "list_files", "invalidate_prefix", "revision", "watch", "stats",
    "store_stats", "expire_idle", "check",
)  # fmt: skip


def _timers(backend: str, registry: CollectorRegistry) -> dict[str, tuple[Histogram, Counter]]:
    seconds = Histogram(
        "contextstore_backend_call_seconds",
        "Time of each call into the storage backend, per operation.",
        ("backend", "operation"),
        registry=registry,
        buckets=LATENCY_BUCKETS,
    )
    errors = Counter(
        "contextstore_backend_errors_total",
        "Backend calls that could not reach their storage (BackendUnavailable).",
        ("backend", "operation"),
        registry=registry,
    )
    return {op: (seconds.labels(backend, op), errors.labels(backend, op)) for op in OPERATIONS}


class StoreCollector(Collector):
    """The store's live counts, read from ``store_stats()`` when Prometheus scrapes.

    Read then, not kept up to date on every call: the store already counts
    them. A backend that is down leaves its families out; the scrape succeeds
    (``contextstore_backend_errors_total`` and the health service say why).
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._store.store_stats()
        except BackendUnavailable:
            return
        for name, doc, value in (
            ("files", "Files cached now, in every namespace.", stats.files),
            ("analyses", "Analyses cached now, in every namespace.", stats.analyses),
            ("bytes", "Bytes charged against the budgets now.", stats.bytes),
            ("sessions", "Sessions holding state now.", stats.sessions),
        ):
            yield GaugeMetricFamily(f"contextstore_{name}", doc, value=value)
        yield CounterMetricFamily(
            "contextstore_evictions", "Entries evicted to stay within budgets.",
            value=stats.evictions,
        )  # fmt: skip
        yield CounterMetricFamily(
            "contextstore_expirations", "Sessions expired after their idle time.",
            value=stats.expirations,
        )  # fmt: skip
        yield CounterMetricFamily(
            "contextstore_stale_analyses_dropped",
            "Analyses dropped because their file's content changed.",
            value=stats.stale_analyses_dropped,
        )
