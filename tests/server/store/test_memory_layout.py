"""Properties of the in-memory store's layout that the model test cannot see:
exact LRU across many sessions and all 64 stripes, memory released by clears,
bounded bookkeeping under session churn, and records the cyclic GC skips.
"""

from __future__ import annotations

import gc
import random
import sys
from collections import OrderedDict

import pytest

from contextstore.server.store.base import Budgets, FileWrite, Namespace
from contextstore.server.store.memory import StripedStore

NO_LIMITS = Budgets(total_bytes=0, session_ttl_seconds=0)


def test_total_budget_evicts_the_exact_lru_across_sessions_and_stripes() -> None:
    # Every file charges 10 bytes, so the budget holds exactly 12 of them.
    store = StripedStore(stripes=64, budgets=Budgets(total_bytes=120, session_ttl_seconds=0))
    sessions: list[Namespace] = [None, *(f"s{i}" for i in range(30))]
    oracle: OrderedDict[tuple[Namespace, str], None] = OrderedDict()
    rnd = random.Random(7)
    for i in range(3000):
        key = (rnd.choice(sessions), f"p{rnd.randrange(3)}")
        if rnd.random() < 0.5:
            found = store.get_file(*key)
            assert (found is not None) == (key in oracle), i
            if found is not None:
                oracle.move_to_end(key)
            continue
        store.cache_file(key[0], FileWrite(key[1], b"x" * 8))
        oracle[key] = None
        oracle.move_to_end(key)
        while len(oracle) > 12:
            oracle.popitem(last=False)
    assert store.store_stats().files == len(oracle)


def test_clear_releases_the_content_at_once() -> None:
    store = StripedStore(budgets=NO_LIMITS)
    content = bytes(range(256)) * 4
    baseline = sys.getrefcount(content)
    store.cache_file("s", FileWrite("a", content))
    store.cache_analysis("s", "a", "t", content)
    assert sys.getrefcount(content) == baseline + 2
    store.clear_session("s")
    assert sys.getrefcount(content) == baseline


def test_session_churn_keeps_eviction_bookkeeping_bounded() -> None:
    store = StripedStore(stripes=1, budgets=Budgets(total_bytes=10_000, session_ttl_seconds=0))
    store.cache_file("keep", FileWrite("a", b"k"))
    for i in range(5000):
        store.cache_file(f"churn{i}", FileWrite("a", b"x"))
        store.clear_session(f"churn{i}")
    # Internals on purpose: dropped namespaces must not pile up in the heap.
    shard = store._shards[0]
    assert len(shard._heads) <= 2 * len(shard.namespaces) + 20
    assert store.get_file("keep", "a") is not None


def test_cached_files_add_no_gc_tracked_objects() -> None:
    store = StripedStore(budgets=NO_LIMITS)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(2000):
        store.cache_file("s", FileWrite(f"src/m{i}.py", i.to_bytes(4, "little")))
    store.cache_file("s", FileWrite("labelled.py", b"x", {"k": "v"}, mtime_ns=5))
    gc.collect()
    # A handful for the namespace itself; nothing per file.
    assert len(gc.get_objects()) - before < 50


def test_metadata_built_on_read_matches_the_write() -> None:
    store = StripedStore(budgets=NO_LIMITS)
    plain = store.cache_file("s", FileWrite("a", b"x"))
    labelled = store.cache_file("s", FileWrite("b", b"y", {"ké": "v"}, mtime_ns=-3))
    assert store.get_metadata("s", "a") == plain and store.get_metadata("s", "b") == labelled
    assert plain.labels == {} and dict(labelled.labels) == {"ké": "v"}
    with pytest.raises(TypeError):
        plain.labels["k"] = "v"  # type: ignore[index]  # the shared empty labels are read-only
    got = store.get_file("s", "b")
    assert got is not None and got.metadata == labelled and got.metadata.mtime_ns == -3


def test_namespaces_spread_over_every_stripe() -> None:
    # Striping only lets calls on different sessions run at once if sessions
    # really land on different stripes. With 4000 sessions on 64 stripes, a
    # uniform hash leaves a stripe empty with odds of about 1 in 10**25.
    store = StripedStore(stripes=64, budgets=NO_LIMITS)
    for i in range(4000):
        store.cache_file(f"session-{i}", FileWrite("a", b""))
    per_stripe = [len(shard.namespaces) for shard in store._shards]
    assert sum(per_stripe) == 4000
    assert min(per_stripe) > 0
    assert max(per_stripe) < 3 * 4000 // 64


def test_emptied_analysis_type_sets_are_freed() -> None:
    # Each path with analyses keeps the set of its types; once its last
    # analysis goes, by whatever removal, the set must go too, or a session
    # cycling through paths would keep one per path it ever analysed.
    store = StripedStore(stripes=1, budgets=NO_LIMITS)
    store.cache_file("s", FileWrite("keep", b"k"))  # the namespace outlives the rest
    for i in range(200):
        for kind in ("t1", "t2"):
            store.cache_analysis("s", f"p{i}", kind, b"r")
        match i % 4:
            case 0:
                store.invalidate_analysis("s", f"p{i}", "t1")
                store.invalidate_analysis("s", f"p{i}", "t2")
            case 1:
                store.invalidate_analysis("s", f"p{i}", None)
            case 2:
                store.invalidate_file("s", f"p{i}")
            case _:
                store.cache_file("s", FileWrite(f"p{i}", b"new"))  # drops them as stale
                store.invalidate_file("s", f"p{i}")
    state = store._shards[0].namespaces["s"]
    assert store.stats("s").analyses == 0
    assert state.analysis_types == {}
