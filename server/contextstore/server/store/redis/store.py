"""The Redis backend: any number of servers share one standalone Redis or Redis Cluster.

Beyond what every backend promises (``Store``), and where it differs:

- **Shared.** Every server on the same Redis and key prefix sees every
  write acknowledged by any of them at once: each call is one function call
  (``library.lua``) on the primary holding the namespace, never a replica.
- **Per-namespace LRU only.** ``session_bytes`` and ``session_entries``
  evict a namespace's least recently used entries exactly as in memory. The
  whole store's bound is Redis's own ``maxmemory``: ``total_bytes`` only
  refuses a single item or batch larger than it. Under ``allkeys-lru`` Redis
  evicts whole namespaces (a namespace's entries live in one hash), so a
  reader sees a miss, never half an entry; counters of that namespace go
  with it, and evictions Redis makes are not counted.
- **Versions** count file writes per bucket of namespaces (see ``layout``),
  not store-wide; they still grow on every write of a path. ``cached_at``
  comes from the writing server's wall clock, made to grow per bucket.
- **Idle expiry** uses the server's clock (``timer``, wall-clock seconds in
  production, since servers share the namespaces); a sweep of ours expires
  sessions (``expire_idle``), and calls find an idle session expired. Redis
  key expiry is not used, so the expirations counter is exact. Last use is
  written when it moved by ``ttl / 1000`` (at most a second), so a session
  may expire that much early.
- **Stats.** Per namespace exact; whole-store figures sum every bucket, on
  every primary (``BUCKETS`` function calls).
- **Failure.** An unreachable or timed-out Redis raises
  ``BackendUnavailable``; a full one that refuses writes, ``QuotaExceeded``.
- **Records in wire form.** A file's metadata is kept encoded as reads send
  it (``wire``), so a read splits a record and decodes nothing. Namespaces of
  the previous layout (0.2) are misses, and a bucket sweep deletes them
  (``library.lua``, "Namespace ids").
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from contextstore.server.errors import FieldViolation, InvalidArgument, PreconditionFailed
from contextstore.server.store.base import (
    LIST_LOOKS,
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
from contextstore.server.store.events import Cursor
from contextstore.server.store.redis import layout
from contextstore.server.store.redis.connection import (
    BACKEND,
    Client,
    Functions,
    Settings,
    connect,
)
from contextstore.server.store.redis.watching import (
    READ_COUNT,
    WAIT_SLICE,
    StreamCursor,
    parse_history,
)
from contextstore.server.wire import WireFile

LIST_BUDGET_BYTES = 8 << 20
"""Record bytes one page may read in Redis: a record holds its content, so a
page of large files ends early, with a token, rather than copy gigabytes."""


class RedisStore(Store):
    """A ``Store`` in Redis; see the module docstring for what differs from memory."""

    backend = BACKEND

    def __init__(
        self,
        settings: Settings,
        *,
        key_prefix: str = "cs:",
        budgets: Budgets | None = None,
        timer: Callable[[], float] = time.time,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._client, self.cluster = connect(settings)
        self._functions = Functions(self._client, self.cluster)
        try:
            self._functions.load()
        except BaseException:
            self._client.close()
            raise
        self._layout = layout.Layout(key_prefix)
        self._budgets = budgets or Budgets()
        self._timer = timer
        self._wall_clock = wall_clock
        self._ttl = str(self._budgets.session_ttl_seconds).encode()
        self._history = str(self._budgets.watch_history_revisions).encode()
        self._timeout = settings.timeout_seconds
        # Recency is kept only for the namespace budgets' eviction; without one
        # a read is spared a sorted-set update per entry.
        self._tracked = bool(self._budgets.session_bytes or self._budgets.session_entries)
        self._session_budgets = (
            str(self._budgets.session_bytes).encode(),
            str(self._budgets.session_entries).encode(),
        )

    @property
    def client(self) -> Client:
        """The redis-py client (for checks at start and for tests)."""
        return self._client

    @property
    def properties(self) -> Mapping[str, str]:
        return {
            "mode": "cluster" if self.cluster else "standalone",
            "key_prefix": self._layout.prefix,
            "eviction": "LRU within a namespace; whole store: Redis maxmemory",
            "consistency": "read-your-writes across servers (primaries only)",
            "versions": "grow per path; counted per bucket of namespaces, not store-wide",
            "expirations": "exact (a sweep of ours; no Redis key expiry)",
            "shared_contents": "none: each namespace holds its own contents (sharing across "
            "namespaces would cross hash slots, and a call is atomic only within one)",
        }

    # -- calls -----------------------------------------------------------------

    def _call(self, name: str, ns: Namespace, *args: Any) -> Any:
        keys = self._layout.namespace(ns)
        now = repr(self._timer())
        return self._functions.call(
            name,
            keys.keys(self._tracked),
            (now, self._ttl, keys.id, keys.is_session, self._history, *args),
        )

    # -- files -----------------------------------------------------------------

    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata:
        return self.batch_cache_files(ns, [write])[0]

    def batch_cache_files(self, ns: Namespace, writes: Sequence[FileWrite]) -> list[FileMetadata]:
        charges = [file_charge(w) for w in writes]
        check_fits(self._budgets, sum(charges), len(writes))
        args: list[Any] = []
        digests = []
        for write, charge in zip(writes, charges, strict=True):
            digest = hashlib.sha256(write.content).digest()
            digests.append(digest)
            head = layout.file_head(
                charge, len(write.content), digest, write.mtime_ns, write.labels
            )
            args += (write.path, digest, head, write.content, *_expect_arguments(write.expect))
        revision, *stamps = _met(self._call(
            "put_files", ns, layout.cached_at_argument(self._wall_clock()), *self._session_budgets,
            *args,
        ))  # fmt: skip
        return [
            FileMetadata(
                path=w.path,
                size=len(w.content),
                sha256=digest,
                mtime_ns=w.mtime_ns,
                cached_at_ns=int(at),
                labels=w.labels,
                version=int(version),
                revision=revision,
            )
            for w, digest, (at, version) in zip(writes, digests, stamps, strict=True)
        ]

    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        record = self._call("get", ns, b"f", path)[0]
        return layout.wire_file(record) if record is not None else None

    def get_metadata_wire(self, ns: Namespace, path: str) -> bytes | None:
        record = self._call("get", ns, b"m", path)[0]
        return layout.file_tail(record) if record is not None else None

    def batch_get_files_wire(self, ns: Namespace, paths: Sequence[str]) -> list[WireFile | None]:
        if not paths:
            self._call("get", ns, b"f")  # still a data call: it keeps the session alive
            return []
        found = self._call("get", ns, b"f", *paths)
        return [layout.wire_file(r) if r is not None else None for r in found]

    # -- analyses --------------------------------------------------------------

    def cache_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes,
        *, expect: Expect | None = None,
    ) -> CachedAnalysis:  # fmt: skip
        charge = analysis_charge(path, analysis_type, result)
        check_fits(self._budgets, charge, 1)
        at, revision = _met(self._call(
            "put_analysis", ns, layout.cached_at_argument(self._wall_clock()),
            *self._session_budgets, path, analysis_type, result, charge,
            *_expect_arguments(expect),
        ))  # fmt: skip
        return CachedAnalysis(result, int(at), revision)

    def get_analysis(self, ns: Namespace, path: str, analysis_type: str) -> CachedAnalysis | None:
        record = self._call("get", ns, b"a", f"{path}\0{analysis_type}")[0]
        return layout.cached_analysis(record) if record is not None else None

    # -- removals --------------------------------------------------------------

    def invalidate_file(self, ns: Namespace, path: str, *, expect: Expect | None = None) -> Removed:
        files, analyses, revision = _met(
            self._call("invalidate_file", ns, path, *_expect_arguments(expect))
        )
        return Removed(files, analyses, revision)

    def invalidate_analysis(self, ns: Namespace, path: str, analysis_type: str | None) -> Removed:
        types = () if analysis_type is None else (analysis_type,)
        count, revision = self._call("invalidate_analysis", ns, path, *types)
        return Removed(0, count, revision)

    def list_files(self, ns: Namespace, prefix: str, after: str | None, limit: int) -> Listing:
        reply = self._call(
            "list", ns, prefix, after or "", limit, limit * LIST_LOOKS, LIST_BUDGET_BYTES
        )
        revision, next_after, *pairs = reply
        files = [(p.decode(), tail) for p, tail in zip(pairs[::2], pairs[1::2], strict=True)]
        return Listing(files, None if next_after is None else next_after.decode(), revision)

    def invalidate_prefix(self, ns: Namespace, prefix: str) -> Removed:
        files, analyses, revision = self._call("invalidate_prefix", ns, prefix)
        return Removed(files, analyses, revision)

    def clear_session(self, ns: Namespace) -> Removed:
        files, analyses, revision = self._call("clear", ns)
        return Removed(files, analyses, revision)

    # -- revisions and watch ---------------------------------------------------

    def revision(self, ns: Namespace) -> int:
        current: int = self._call("revision", ns)
        return current

    def watch(self, ns: Namespace, after: int) -> Cursor:
        def read(since: int) -> Any:
            return self._call("history", ns, since, READ_COUNT)

        current = self.revision(ns)
        if after > current:
            raise InvalidArgument(
                [FieldViolation("start_revision", f"{after} is ahead of the revision, {current}")]
            )
        stream = self._layout.namespace(ns).changes
        start = after or current
        parse_history(start, read(start))  # raises now if compacted
        return StreamCursor(
            read,
            lambda: self._functions.blocking_client(stream, self._timeout + WAIT_SLICE),
            stream,
            start,
        )

    # -- sessions and stats ----------------------------------------------------

    def stats(self, ns: Namespace) -> Stats:
        files, analyses, size, exists, hits, misses, evictions, stale = (
            int(v) for v in self._call("stats", ns)
        )
        return Stats(
            files=files,
            analyses=analyses,
            bytes=size,
            sessions=exists,
            hits=hits,
            misses=misses,
            evictions=evictions,
            stale_analyses_dropped=stale,
        )

    def store_stats(self) -> Stats:
        files, analyses, size, sessions, hits, misses, evictions, expirations, stale, _ = (
            self._buckets()
        )
        return Stats(
            files=files,
            analyses=analyses,
            bytes=size,
            sessions=sessions,
            hits=hits,
            misses=misses,
            evictions=evictions,
            expirations=expirations,
            stale_analyses_dropped=stale,
            held_bytes=size,
        )

    def expire_idle(self) -> int:
        # Also when sessions never expire: the sweep deletes old histories.
        return self._buckets()[-1]

    def _buckets(self) -> list[int]:
        """Sweep every bucket and sum its figures (``bucket`` in ``library.lua``)."""
        common, tracked = (repr(self._timer()), self._ttl), b"1" if self._tracked else b"0"
        kept = (self._history, repr(self._budgets.watch_history_seconds))
        calls = [
            (self._layout.bucket_keys(b), (*common, self._layout.bucket_prefix(b), tracked, *kept))
            for b in range(layout.BUCKETS)
        ]
        sums = [0] * 10
        for figures in self._functions.call_many("bucket", calls):
            sums = [a + int(b) for a, b in zip(sums, figures, strict=True)]
        return sums

    # -- lifetime --------------------------------------------------------------

    def check(self) -> None:
        self._functions.ping()

    def close(self) -> None:
        self._client.close()
        if isinstance(self._client, redis.Redis):  # a pool it was given: close() leaves it open
            self._client.connection_pool.disconnect()


_NO_EXPECT = (b"", b"")


def _expect_arguments(expect: Expect | None) -> tuple[bytes | str, bytes]:
    """A precondition as the functions take it: ``if_version``, ``if_sha`` ("" for none)."""
    if expect is None:
        return _NO_EXPECT
    version = b"" if expect.version is None else str(expect.version)
    return version, expect.sha256 or b""


_FAILED = b"PRECONDITION"


def _met(reply: Any) -> Any:
    """``reply``, unless it is a function's unmet precondition: then raise it."""
    if type(reply) is list and len(reply) == 4 and reply[0] == _FAILED:
        _, path, version, sha256 = reply
        raise PreconditionFailed(path.decode(), int(version), sha256)
    return reply
