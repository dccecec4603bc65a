"""The contract's promises about namespace lifetime, a mixin of ``StoreContract``.

When a namespace comes to exist (only by storing something), how it expires
when idle, and what every call sees of an expired one. ``clock`` moves the idle
timer; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import FakeClock

from contextstore.server.errors import QuotaExceeded
from contextstore.server.store.base import FileWrite, Namespace, Removed, Stats, Store

MakeStore = Callable[..., Store]
TTL = 10.0


def fw(path: str, content: bytes, **labels: str) -> FileWrite:
    return FileWrite(path, content, labels)


def _refused(call: Callable[[], object]) -> None:
    with pytest.raises(QuotaExceeded):
        call()


BIG = fw("big", b"x" * 100)  # over a budget of 100 bytes with its path
STORE_NOTHING: dict[str, Callable[[Store, Namespace], object]] = {
    "empty batch": lambda s, ns: s.batch_cache_files(ns, []),
    "get_file": lambda s, ns: s.get_file(ns, "a"),
    "get_metadata": lambda s, ns: s.get_metadata(ns, "a"),
    "get_analysis": lambda s, ns: s.get_analysis(ns, "a", "t"),
    "batch_get_files": lambda s, ns: s.batch_get_files(ns, ["a", "b"]),
    "invalidate_file": lambda s, ns: s.invalidate_file(ns, "a"),
    "invalidate_analyses": lambda s, ns: s.invalidate_analysis(ns, "a", None),
    "invalidate_analysis": lambda s, ns: s.invalidate_analysis(ns, "a", "t"),
    "clear_session": lambda s, ns: s.clear_session(ns),
    "stats": lambda s, ns: s.stats(ns),
    "refused file": lambda s, ns: _refused(lambda: s.cache_file(ns, BIG)),
    "refused batch": lambda s, ns: _refused(lambda: s.batch_cache_files(ns, [BIG])),
    "refused analysis": lambda s, ns: _refused(lambda: s.cache_analysis(ns, "a", "t", BIG.content)),
}
"""Every store call that stores nothing, on namespace ``ns`` of a store with
a total budget of 100 bytes."""


class SessionContract:
    """Namespace lifetime and idle expiry, for every backend."""

    def test_idle_session_expires_lazily_on_access(self, store: Store, clock: FakeClock) -> None:
        store.cache_file("s", fw("a", b"x"))
        store.get_file("s", "a")
        clock.now = TTL - 0.001
        assert store.get_file("s", "a") is not None  # refreshes
        clock.now += TTL - 0.001
        assert store.get_file("s", "nope") is None  # a miss refreshes too
        clock.now += TTL
        assert store.get_file("s", "a") is None
        assert store.stats("s") == Stats()
        assert store.store_stats() == Stats(hits=2, misses=2, expirations=1)

    @pytest.mark.parametrize("op", ["invalidate_file", "invalidate_analysis", "cache", "batch_get"])
    def test_data_operations_refresh_idle_time(
        self, store: Store, clock: FakeClock, op: str
    ) -> None:
        store.cache_file("s", fw("a", b"x"))
        clock.now = 9
        ops: dict[str, Callable[[], object]] = {
            "invalidate_file": lambda: store.invalidate_file("s", "zz"),
            "invalidate_analysis": lambda: store.invalidate_analysis("s", "a", None),
            "cache": lambda: store.cache_analysis("s", "b", "t", b""),
            "batch_get": lambda: store.batch_get_files("s", ["zz"]),
        }
        ops[op]()
        clock.now = 18
        assert store.expire_idle() == 0
        assert store.get_file("s", "a") is not None

    def test_stats_and_missing_session_ops_do_not_refresh_or_create(
        self, store: Store, clock: FakeClock
    ) -> None:
        store.cache_file("s", fw("a", b"x"))
        clock.now = 9
        assert store.stats("s").files == 1
        assert store.get_file("never", "a") is None
        assert store.invalidate_file("never", "a") == Removed()
        clock.now = 10  # exactly the TTL after the last data operation
        assert store.store_stats() == Stats(misses=1, expirations=1)
        assert store.stats("never") == Stats()

    def test_expire_idle_spares_global_and_active_sessions(
        self, store: Store, clock: FakeClock
    ) -> None:
        for ns in (None, "idle1", "idle2", "busy"):
            store.cache_file(ns, fw("a", b"x"))
        clock.now = 5
        store.get_file("busy", "a")
        clock.now = 12
        assert store.expire_idle() == 2
        assert store.expire_idle() == 0
        assert store.get_file(None, "a") is not None and store.get_file("busy", "a") is not None
        assert store.store_stats().sessions == 2
        clock.now = 10_000
        assert store.store_stats().expirations == 3
        assert store.get_file(None, "a") is not None

    def test_expired_session_starts_again_from_zero(self, store: Store, clock: FakeClock) -> None:
        store.cache_file("s", fw("a", b"x"))
        store.get_file("s", "a")
        clock.now = 100
        store.cache_file("s", fw("b", b"y"))
        assert store.get_file("s", "a") is None
        assert store.stats("s") == Stats(1, 0, 2, 1, misses=1)

    def test_stats_of_an_idle_session_find_it_expired_not_stale(
        self, store: Store, clock: FakeClock
    ) -> None:
        store.cache_file("s", fw("a", b"x"))
        store.get_file("s", "a")
        store.get_file("s", "b")
        clock.now = TTL
        assert store.stats("s") == Stats()
        assert store.store_stats() == Stats(hits=1, misses=1, expirations=1)

    @pytest.mark.parametrize("ns", [None, "never"], ids=["global", "session"])
    @pytest.mark.parametrize("call", sorted(STORE_NOTHING))
    def test_calls_that_store_nothing_create_no_namespace(
        self, make: MakeStore, clock: FakeClock, ns: Namespace, call: str
    ) -> None:
        # A namespace exists only while it holds state: a call that stores
        # nothing must not create one, or a client could grow the session
        # count (and the memory behind it) without storing a byte.
        store = make(total_bytes=100)
        STORE_NOTHING[call](store, ns)
        assert store.stats(ns) == Stats()
        assert store.store_stats().sessions == 0
        clock.now = TTL
        assert store.expire_idle() == 0
        assert store.store_stats().expirations == 0

    def test_an_empty_batch_keeps_an_existing_session_alive(
        self, store: Store, clock: FakeClock
    ) -> None:
        store.cache_file("s", fw("a", b"x"))
        clock.now = TTL - 1
        assert store.batch_cache_files("s", []) == []  # a data call all the same
        clock.now = TTL + 1
        assert store.get_file("s", "a") is not None

    def test_clear_of_an_idle_session_finds_it_expired(
        self, store: Store, clock: FakeClock
    ) -> None:
        store.cache_file("s", fw("a", b"x"))
        clock.now = TTL
        assert store.clear_session("s") == Removed(0, 0)
        assert store.store_stats().expirations == 1

    def test_zero_ttl_never_expires(self, make: MakeStore, clock: FakeClock) -> None:
        store = make(session_ttl_seconds=0)
        store.cache_file("s", fw("a", b"x"))
        clock.now = 1e9
        assert store.expire_idle() == 0
        assert store.get_file("s", "a") is not None
