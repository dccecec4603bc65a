"""The memory backend: the contract every backend keeps, then what only it promises.

Only this backend promises an exact store-wide LRU over the total budget, one
namespace per stripe, and every change reported to a sink (see also
``test_memory_layout``: memory per entry, GC untracking).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from server.store.contract import Backend, MakeStore, StoreContract, fw
from server.store.contract_threads import NAMESPACES, run_threads
from server.store.model import check_against_model
from support import FakeClock

from contextstore.server.store.base import Budgets, FileWrite, Namespace, Store
from contextstore.server.store.memory import StripedStore
from contextstore.server.store.namespace import Change
from contextstore.server.store.records import Key

TTL = 10.0
# The model's budgets with a total one, which the memory backend evicts in
# exact store-wide LRU order.
MODEL_BUDGETS = Budgets(
    total_bytes=180, session_bytes=120, session_entries=4, session_ttl_seconds=10
)


def memory_backend(stripes: int) -> Backend:
    def make(
        budgets: Budgets,
        *,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> Store:
        return StripedStore(stripes=stripes, budgets=budgets, timer=timer, wall_clock=wall_clock)

    return make


class TestMemoryBackend(StoreContract):
    @pytest.fixture(params=[1, 4, 64], ids=lambda n: f"stripes{n}")
    def backend(self, request: pytest.FixtureRequest) -> Backend:
        return memory_backend(int(request.param))


# -- what only the memory backend promises -----------------------------------------


@pytest.fixture(params=[1, 64], ids=["stripes1", "stripes64"])
def stripes(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def backend(stripes: int) -> Backend:
    return memory_backend(stripes)


def test_stripes_property(store: Store, stripes: int) -> None:
    assert isinstance(store, StripedStore) and store.stripes == stripes
    with pytest.raises(ValueError):
        StripedStore(stripes=0)


def test_total_budget_evicts_least_recently_used_across_store(make: MakeStore) -> None:
    store = make(total_bytes=40)
    store.cache_file("s", fw("a", b"x" * 9))  # 10 bytes each
    store.cache_file("o", fw("b", b"x" * 9))
    store.cache_file(None, fw("c", b"x" * 9))
    store.cache_file("s", fw("d", b"x" * 9))
    assert store.get_file("s", "a") is not None  # "b" is now the LRU
    store.cache_file("s", fw("e", b"x" * 9))
    assert store.get_file("o", "b") is None
    assert store.stats("o").evictions == 1 and store.stats("s").evictions == 0
    assert store.get_file("s", "a") is not None and store.get_file(None, "c") is not None
    # LRU order is now d, e, a, c: a write needing two evictions evicts d and e only.
    store.cache_file("o", fw("f", b"x" * 19))
    assert store.store_stats().evictions == 3
    assert store.get_file("s", "d") is None and store.get_file("s", "e") is None
    assert store.get_file("s", "a") is not None and store.get_file(None, "c") is not None
    assert store.store_stats().bytes == 40


def test_reading_an_analysis_refreshes_its_store_wide_recency(make: MakeStore) -> None:
    store = make(total_bytes=20)
    store.cache_analysis("x", "p", "t", b"r" * 8)  # 10 bytes each
    store.cache_file("y", fw("f", b"x" * 9))
    assert store.get_analysis("x", "p", "t") is not None  # now file "f" is the LRU
    store.cache_file("y", fw("g", b"x" * 9))
    assert store.get_analysis("x", "p", "t") is not None
    assert store.get_file("y", "f") is None


def test_store_wide_lru_after_a_scan_that_saw_one_stripe(clock: FakeClock) -> None:
    # The eviction hint a scan leaves must not outlive entries written after
    # it: stripe A's entries read again after B was written are newer than B's.
    store = StripedStore(stripes=2, budgets=Budgets(total_bytes=20), timer=clock)
    a, b = _sessions_on_two_stripes(store)
    store.cache_file(a, fw("a1", b"x" * 8))  # 10 bytes each: the budget holds two
    store.cache_file(a, fw("a2", b"x" * 8))
    store.cache_file(a, fw("a3", b"x" * 8))  # a scan that sees stripe A alone evicts a1
    store.cache_file(b, fw("b1", b"x" * 8))  # evicts a2, the oldest
    assert store.get_file(a, "a3") is not None  # now b1 is the oldest
    store.cache_file(b, fw("b2", b"x" * 8))
    assert store.get_file(b, "b1") is None
    assert store.get_file(a, "a3") is not None and store.get_file(b, "b2") is not None
    assert store.store_stats().evictions == 3


def _sessions_on_two_stripes(store: StripedStore) -> tuple[str, str]:
    first = "a"
    other = next(f"b{i}" for i in range(100) if store._stripe(f"b{i}") != store._stripe(first))
    return first, other


def test_every_change_happens_under_its_stripe_lock(clock: FakeClock) -> None:
    # The sink is told of each change as it happens, so it can see whether
    # the change's stripe lock is held: evictions of both budgets included.
    held: list[tuple[Change, bool]] = []

    def sink(ns: Namespace, key: Key, change: Change) -> None:
        held.append((change, store._locks[store._stripe(ns)].locked()))

    budgets = Budgets(total_bytes=60, session_entries=3, session_ttl_seconds=TTL)
    store = StripedStore(stripes=4, budgets=budgets, timer=clock, sink=sink)
    for i in range(5):  # 10 bytes each: over the session's entry budget
        store.cache_file("s0", fw(f"p{i}", b"x" * 8))
    session_evictions = store.store_stats().evictions
    for i in range(5):  # over the total budget
        store.cache_file(f"s{i}", fw("q", b"x" * 8))
        store.cache_analysis(f"s{i}", "q", "t", b"r" * 7)
    store.cache_file("s4", fw("q", b"changed"))  # drops the analysis as stale
    store.invalidate_file("s3", "q")
    store.clear_session("s2")
    clock.now = TTL
    store.expire_idle()
    assert session_evictions == 2 and store.store_stats().evictions > session_evictions
    assert {change for change, _ in held} == set(Change)
    assert [change for change, locked in held if not locked] == []


def test_session_budget_is_enforced_before_the_total(make: MakeStore) -> None:
    store = make(total_bytes=35, session_bytes=20)
    store.cache_file("o", fw("x", b"x" * 9))  # the store's LRU entry
    store.batch_cache_files("s", [fw("a", b"x" * 9), fw("b", b"x" * 9)])
    store.cache_file("s", fw("c", b"x" * 9))  # s: 30 > 20, store: 40 > 35
    # Evicting "a" of s satisfies both budgets; "x" of o must not go too.
    assert store.get_file("o", "x") is not None and store.get_file("s", "a") is None
    assert store.store_stats().evictions == 1


def test_total_budget_expires_idle_sessions_before_evicting_live_entries(
    make: MakeStore, clock: FakeClock
) -> None:
    store = make(total_bytes=20)
    store.cache_file("idle", fw("a", b"x" * 8))  # charge 9
    clock.now = TTL / 2
    store.cache_file("live", fw("b", b"y" * 8))  # charge 9
    clock.now = TTL  # "idle" is past its TTL, "live" is not
    store.cache_file("live", fw("c", b"z" * 8))  # 27 > 20: something must go
    assert store.get_file("live", "b") is not None
    stats = store.store_stats()
    assert (stats.expirations, stats.evictions, stats.files) == (1, 0, 2)


def test_budgets_hold_after_concurrent_writes_and_evict_no_more_than_needed(
    stripes: int,
) -> None:
    charge = 12  # every file: 10 bytes of content, 2 of path
    store = StripedStore(stripes=stripes, budgets=Budgets(total_bytes=30 * charge))
    paths = [f"f{i}" for i in range(10)]

    def work(me: int) -> None:
        rnd = random.Random(200 + me)
        if me == 0:  # monitor: bytes only shrink by eviction, and only while over budget
            for _ in range(3000):
                stats = store.store_stats()
                # Only one stripe makes stats a snapshot: one lock covers it all.
                assert stripes > 1 or stats.evictions == 0 or stats.bytes >= 30 * charge
            return
        for i in range(1500):
            ns, path = rnd.choice(NAMESPACES), rnd.choice(paths)
            if rnd.randrange(3):
                store.cache_file(ns, FileWrite(path, f"{me:02d}|{i:07d}".encode()))
            else:
                found = store.get_file(ns, path)
                assert found is None or len(found.content) == 10

    run_threads(work)
    whole = store.store_stats()
    assert whole.evictions > 0
    # Bytes only shrink by eviction, and an eviction happens only while the
    # store is over budget: so it ends exactly at the budget, not below.
    assert whole.bytes == 30 * charge
    assert whole.evictions == sum(store.stats(ns).evictions for ns in NAMESPACES)
    live = sum(f is not None for ns in NAMESPACES for f in store.batch_get_files(ns, paths))
    assert live == whole.files == 30


@pytest.mark.parametrize("stripes", [1, 4])
def test_random_operation_sequences_match_the_exact_lru_model(stripes: int) -> None:
    backend = memory_backend(stripes)

    check_against_model(
        lambda timer, wall: backend(MODEL_BUDGETS, timer=timer, wall_clock=wall), MODEL_BUDGETS
    )


def test_the_change_sink_sees_every_insert_and_removal() -> None:
    # Replaying what the sink was told must give exactly what the store holds,
    # through writes, replacements, stale drops, invalidations, evictions of
    # both budgets, clears and idle expiry.
    clock = FakeClock(0.0)
    replica: set[tuple[Namespace, Key]] = set()
    causes: set[Change] = set()

    def sink(ns: Namespace, key: Key, change: Change) -> None:
        causes.add(change)
        if change is Change.STORED:
            replica.add((ns, key))
        else:
            replica.remove((ns, key))

    budgets = Budgets(total_bytes=300, session_entries=5, session_ttl_seconds=TTL)
    store = StripedStore(stripes=4, budgets=budgets, timer=clock, sink=sink)
    rnd = random.Random(7)
    for i in range(3000):
        ns = rnd.choice([*NAMESPACES, "idle"])
        path = rnd.choice(["a", "b", "c", "d"])
        op = rnd.randrange(100)
        if op < 40:
            store.cache_file(ns, FileWrite(path, bytes([rnd.randrange(3)]) * rnd.randrange(40)))
        elif op < 60:
            store.cache_analysis(ns, path, rnd.choice(["t1", "t2"]), b"r" * rnd.randrange(20))
        elif op < 70:
            store.batch_cache_files(ns, [fw(p, b"b" * rnd.randrange(10)) for p in "ab"])
        elif op < 80:
            store.invalidate_file(ns, path)
        elif op < 88:
            store.invalidate_analysis(ns, path, rnd.choice([None, "t1"]))
        elif op < 92:
            store.clear_session(ns)
        elif op < 96:
            store.get_file(ns, path)
        else:
            clock.now += TTL / 2
            store.expire_idle()
        if i % 100 == 0:
            assert replica == _contents(store)
    assert replica == _contents(store)
    assert causes == set(Change)


def _contents(store: StripedStore) -> set[tuple[Namespace, Key]]:
    return {
        (ns, key)
        for shard in store._shards
        for ns, state in shard.namespaces.items()
        for key in state.entries
    }
