"""What every storage backend promises, as tests any backend runs.

A backend's test module subclasses ``StoreContract`` and provides a
``backend`` fixture: a factory taking the budgets and, to be driven by fake
clocks, the idle timer and the wall clock. Every test below then runs against
it. The rules are those of ``contextstore.server.store.base.Store``'s
docstring; what only one backend promises (the memory backend's exact
store-wide LRU, its stripes and layout) is tested in that backend's own module.

Time is faked: ``clock`` drives the idle timer (seconds), ``wall`` the wall
clock (ns) that stamps ``cached_at_ns``; these fixtures, and ``make`` and
``store`` built from ``backend``, are in ``conftest.py`` beside this file.
Namespace lifetime and idle expiry come from ``contract_sessions``, the tests
of many threads at once from ``contract_threads``, compare-and-set writes
from ``contract_preconditions``.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from typing import Protocol

import pytest
from server.store.contract_preconditions import PreconditionContract
from server.store.contract_sessions import TTL as TTL
from server.store.contract_sessions import MakeStore as MakeStore
from server.store.contract_sessions import SessionContract
from server.store.contract_sessions import fw as fw
from server.store.contract_threads import ThreadContract
from server.store.contract_watch import WatchContract
from server.store.model import check_against_model
from support import FakeClock, FakeWall

from contextstore.server.errors import QuotaExceeded
from contextstore.server.store.base import Budgets, FileWrite, Removed, Stats, Store

# The model's budgets without a total: which entry goes first over the total
# budget is each backend's own promise (exact store-wide LRU for memory).
MODEL_BUDGETS = Budgets(total_bytes=0, session_bytes=120, session_entries=4, session_ttl_seconds=10)


class Backend(Protocol):
    """Makes a fresh, empty store of the backend under test."""

    def __call__(
        self,
        budgets: Budgets,
        *,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> Store: ...


class StoreContract(SessionContract, ThreadContract, PreconditionContract, WatchContract):
    """The promises of ``Store``; subclass it with a ``backend`` fixture."""

    pytestmark = pytest.mark.timeout(120)

    # -- the model: random sequences against a plain reference ----------------

    def test_random_operation_sequences_match_the_model(self, backend: Backend) -> None:
        check_against_model(
            lambda timer, wall: backend(MODEL_BUDGETS, timer=timer, wall_clock=wall), MODEL_BUDGETS
        )

    # -- files, analyses and namespaces ------------------------------------------

    def test_cache_file_roundtrip(self, store: Store, wall: FakeWall) -> None:
        meta = store.cache_file("s", FileWrite("a.py", b"hello", {"k": "v"}, mtime_ns=42))
        assert (meta.path, meta.size, meta.mtime_ns, dict(meta.labels)) == (
            "a.py",
            5,
            42,
            {"k": "v"},
        )
        assert meta.sha256 == hashlib.sha256(b"hello").digest() and meta.cached_at_ns >= wall.now
        got = store.get_file("s", "a.py")
        assert got is not None and got.content == b"hello" and got.metadata == meta
        assert store.get_metadata("s", "a.py") == meta

    def test_misses_return_none(self, store: Store) -> None:
        store.cache_file("s", fw("a", b"x"))
        assert store.get_file("s", "b") is None
        assert store.get_metadata("s", "b") is None
        assert store.get_analysis("s", "a", "t") is None
        assert store.get_file("other", "a") is None
        assert store.get_file(None, "a") is None

    def test_session_named_global_is_not_the_global_namespace(self, store: Store) -> None:
        store.cache_file(None, fw("p", b"global-ns"))
        store.cache_file("global", fw("p", b"named"))
        store.cache_analysis(None, "p", "t", b"r-global")
        g, n = store.get_file(None, "p"), store.get_file("global", "p")
        assert g is not None and g.content == b"global-ns"
        assert n is not None and n.content == b"named"
        assert store.get_analysis("global", "p", "t") is None
        assert store.clear_session("global") == Removed(1, 0)
        assert store.get_file(None, "p") is not None
        assert store.stats(None).files == 1 and store.stats("global").sessions == 0

    def test_recache_with_new_content_drops_analyses(self, store: Store) -> None:
        store.cache_file("s", fw("a", b"v1"))
        store.cache_analysis("s", "a", "t1", b"r1")
        store.cache_analysis("s", "a", "t2", b"r2")
        store.cache_analysis("s", "b", "t1", b"other path")
        store.cache_analysis("o", "a", "t1", b"other session")
        store.cache_file("s", fw("a", b"v2"))
        assert store.get_analysis("s", "a", "t1") is None
        assert store.get_analysis("s", "a", "t2") is None
        assert store.get_analysis("s", "b", "t1") is not None
        assert store.get_analysis("o", "a", "t1") is not None
        assert store.stats("s").analyses == 1

    def test_recache_with_same_content_keeps_analyses(self, store: Store) -> None:
        store.cache_file("s", fw("a", b"same"))
        first = store.cache_analysis("s", "a", "t", b"r")
        store.cache_file("s", fw("a", b"same", k="new label"))
        assert store.get_analysis("s", "a", "t") == first

    def test_analysis_cached_without_a_file_is_dropped_when_a_file_arrives(
        self,
        store: Store,
    ) -> None:
        orphan = store.cache_analysis("s", "a", "t", b"r")
        assert store.get_analysis("s", "a", "t") == orphan  # readable until then
        store.cache_file("s", fw("a", b"anything"))
        assert store.get_analysis("s", "a", "t") is None
        # One recorded against the file survives re-caching that same content.
        kept = store.cache_analysis("s", "a", "t", b"r2")
        store.cache_file("s", fw("a", b"anything"))
        assert store.get_analysis("s", "a", "t") == kept

    @pytest.mark.parametrize(("recached", "survives"), [(b"X" * 10, True), (b"Y" * 10, False)])
    def test_analysis_keeps_digest_after_file_eviction(
        self, make: MakeStore, recached: bytes, survives: bool
    ) -> None:
        store = make(session_entries=2)
        store.cache_file("s", fw("a", b"X" * 10))
        store.cache_analysis("s", "a", "t", b"r")
        store.cache_analysis("s", "b", "t", b"r")  # evicts the file of "a" (LRU)
        assert store.get_file("s", "a") is None
        assert store.get_analysis("s", "a", "t") is not None  # evicting a file keeps analyses
        store.cache_file("s", fw("a", recached))  # no previous file: compare recorded digest
        assert (store.get_analysis("s", "a", "t") is not None) is survives
        assert store.stats("s").stale_analyses_dropped == (0 if survives else 1)

    # -- stale analyses dropped: counted per namespace and store-wide ------------

    def test_stale_drops_count_each_analysis_a_write_drops(self, store: Store) -> None:
        store.cache_file("s", fw("a", b"v1"))
        store.cache_analysis("s", "a", "t1", b"r")
        store.cache_analysis("s", "a", "t2", b"r")
        store.cache_analysis("s", "b", "t1", b"r")  # orphan: no file of "b" yet
        store.cache_file("s", fw("a", b"v1", k="label"))  # same content: nothing is stale
        assert store.stats("s").stale_analyses_dropped == 0
        store.cache_file("s", fw("a", b"v2"))  # drops t1 and t2
        assert store.stats("s").stale_analyses_dropped == 2
        store.batch_cache_files("s", [fw("b", b"x"), fw("c", b"x")])  # drops the orphan
        assert store.stats("s").stale_analyses_dropped == 3
        store.cache_file("s", fw("a", b"v3"))  # none left to drop
        assert store.stats("s").stale_analyses_dropped == 3
        assert store.store_stats().stale_analyses_dropped == 3

    def test_only_a_file_write_counts_a_stale_drop(self, make: MakeStore) -> None:
        store = make(session_entries=2)
        store.cache_file("s", fw("a", b"x"))
        store.cache_analysis("s", "a", "t1", b"r")
        store.cache_analysis("s", "a", "t2", b"r")  # evicts the file, keeps the analyses
        assert store.invalidate_analysis("s", "a", "t1").analyses == 1
        assert store.invalidate_file("s", "a") == Removed(0, 1)
        for path in "cde":  # the third evicts an analysis
            store.cache_analysis("s", path, "t", b"r")
        assert store.stats("s").evictions == 2
        assert store.stats("s").stale_analyses_dropped == 0
        assert store.store_stats().stale_analyses_dropped == 0

    def test_stale_drops_per_namespace_reset_with_it_and_sum_store_wide(
        self, store: Store, clock: FakeClock
    ) -> None:
        for ns, drops in ((None, 1), ("s", 2), ("o", 3)):
            store.cache_file(ns, fw("a", b"old"))
            for i in range(drops):
                store.cache_analysis(ns, "a", f"t{i}", b"r")
            store.cache_file(ns, fw("a", b"new"))
        counted = {ns: store.stats(ns).stale_analyses_dropped for ns in (None, "s", "o", "x")}
        assert counted == {None: 1, "s": 2, "o": 3, "x": 0}
        assert store.store_stats().stale_analyses_dropped == 6
        # A cleared or expired namespace starts from zero; the store keeps count.
        store.clear_session("s")
        clock.now += TTL
        assert store.stats("o").stale_analyses_dropped == 0
        assert store.stats("s").stale_analyses_dropped == 0
        assert store.store_stats() == Stats(1, 0, 4, 1, expirations=1, stale_analyses_dropped=6)

    def test_invalidate_file_only_in_its_namespace(self, store: Store) -> None:
        for ns in ("s", "o"):
            store.cache_file(ns, fw("a", b"x"))
            store.cache_analysis(ns, "a", "t1", b"r")
            store.cache_analysis(ns, "a", "t2", b"r")
        store.cache_file("s", fw("b", b"x"))
        assert store.invalidate_file("s", "a") == Removed(1, 2)
        assert store.invalidate_file("s", "a") == Removed(0, 0)
        assert store.get_file("s", "a") is None and store.get_analysis("s", "a", "t1") is None
        assert store.get_file("s", "b") is not None
        assert (
            store.get_file("o", "a") is not None and store.get_analysis("o", "a", "t2") is not None
        )
        store.cache_analysis("s", "c", "t", b"r")
        assert store.invalidate_file("s", "c") == Removed(0, 1)

    def test_invalidate_analysis_one_type_or_all(self, store: Store) -> None:
        store.cache_file("s", fw("a", b"x"))
        for t in ("t1", "t2", "t3"):
            store.cache_analysis("s", "a", t, b"r")
        assert store.invalidate_analysis("s", "a", "t1").analyses == 1
        assert store.invalidate_analysis("s", "a", "t1").analyses == 0
        assert store.invalidate_analysis("s", "a", "nope").analyses == 0
        assert store.get_analysis("s", "a", "t2") is not None
        assert store.invalidate_analysis("s", "a", None).analyses == 2
        assert store.get_analysis("s", "a", "t3") is None
        assert store.get_file("s", "a") is not None
        assert store.invalidate_analysis("missing", "a", None).analyses == 0

    def test_clear_session_resets_only_that_namespace(self, store: Store) -> None:
        for ns in ("s", "o", None):
            store.cache_file(ns, fw("a", b"x"))
            store.cache_file(ns, fw("b", b"y"))
            store.cache_analysis(ns, "a", "t", b"r")
            store.get_file(ns, "a")
            store.get_file(ns, "zz")
        assert store.clear_session("s") == Removed(2, 1)
        assert store.stats("s") == Stats()
        assert store.get_file("s", "a") is None
        for ns in ("o", None):
            assert store.stats(ns) == Stats(2, 1, 2 + 2 + 3, 1, hits=1, misses=1)
        whole = store.store_stats()
        assert (whole.sessions, whole.files, whole.hits) == (2, 4, 3)
        assert store.clear_session("s") == Removed(0, 0)
        assert store.clear_session(None) == Removed(2, 1)
        assert store.get_file("o", "b") is not None

    # -- batches -----------------------------------------------------------------

    def test_batch_get_one_result_per_path_in_order(self, store: Store) -> None:
        metas = store.batch_cache_files("s", [fw(f"p{i}", bytes([i]) * 3) for i in range(8)])
        assert [m.path for m in metas] == [f"p{i}" for i in range(8)]
        got = store.batch_get_files("s", ["p5", "nope", "p0", "p5"])
        assert [g.content if g else None for g in got] == [b"\5" * 3, None, b"\0" * 3, b"\5" * 3]
        assert store.stats("s") == Stats(8, 0, 8 * 5, 1, hits=3, misses=1)

    def test_batch_over_a_budget_stores_nothing(self, make: MakeStore) -> None:
        store = make(session_bytes=30, session_entries=3)
        store.cache_file("s", fw("a", b"old"))
        with pytest.raises(QuotaExceeded) as err:
            store.batch_cache_files(
                "s", [fw("a", b"x" * 10), fw("b", b"x" * 10), fw("c", b"x" * 10)]
            )
        assert err.value.limit == "session_bytes"
        with pytest.raises(QuotaExceeded) as err:
            store.batch_cache_files("s", [fw(p, b"") for p in "abcd"])
        assert err.value.limit == "session_entries"
        assert store.batch_get_files("s", ["a", "b", "c", "d"])[1:] == [None, None, None]
        old = store.get_file("s", "a")
        assert old is not None and old.content == b"old"
        assert store.stats("s").evictions == 0

    # -- versions, charges and budgets -------------------------------------------

    def test_version_and_cached_at_increase_even_if_wall_clock_stalls(
        self, store: Store, wall: FakeWall
    ) -> None:
        seen = [store.cache_file("s", fw("a", b"v"))]
        for step in (0, 0, -500, 0, 7):  # stall, step back, tick
            wall.now += step
            seen.append(store.cache_file("s", fw("a", b"v" * len(seen))))
        for before, after in itertools.pairwise(seen):
            assert after.version > before.version
            # A whole microsecond: clients holding microsecond datetimes see them ordered.
            assert after.cached_at_ns - before.cached_at_ns >= 1000
        wall.now += 10**9
        assert store.cache_file("s", fw("a", b"later")).cached_at_ns == wall.now
        one = store.cache_analysis("s", "a", "t", b"1")
        assert store.cache_analysis("s", "a", "t", b"2").cached_at_ns - one.cached_at_ns >= 1000

    def test_charges_count_content_path_labels_and_types(self, store: Store) -> None:
        store.cache_file("s", FileWrite("dé.py", b"12345", {"ké": "vé", "a": ""}))
        assert store.stats("s").bytes == 5 + 6 + (3 + 3) + 1
        store.cache_analysis("s", "dé.py", "typé", b"xyz")
        assert store.stats("s").bytes == 18 + 3 + 6 + 5
        store.cache_file("s", FileWrite("dé.py", b"1", {}))  # replaces, drops analysis
        assert store.stats("s") == Stats(1, 0, 7, 1, stale_analyses_dropped=1)
        assert store.store_stats().bytes == 7

    @pytest.mark.parametrize("read", ["get_file", "get_metadata", "batch_get", "get_analysis"])
    def test_reads_refresh_recency(self, make: MakeStore, read: str) -> None:
        store = make(session_entries=2)
        # Two entries, the older one is read, then a third entry forces one eviction.
        if read == "get_analysis":
            store.cache_analysis("s", "a", "t", b"r")
            store.cache_file("s", fw("b", b"x"))
            assert store.get_analysis("s", "a", "t") is not None
        else:
            store.cache_file("s", fw("a", b"x"))
            store.cache_analysis("s", "b", "t", b"r")
            reads: dict[str, Callable[[], object]] = {
                "get_file": lambda: store.get_file("s", "a"),
                "get_metadata": lambda: store.get_metadata("s", "a"),
                "batch_get": lambda: store.batch_get_files("s", ["zz", "a"])[1],
            }
            assert reads[read]() is not None
        store.cache_file("s", fw("c", b"x"))
        assert store.get_file("s", "b") is None and store.get_analysis("s", "b", "t") is None
        assert store.get_file("s", "a") is not None or store.get_analysis("s", "a", "t") is not None
        assert store.stats("s").evictions == 1

    def test_session_budgets_evict_only_within_the_namespace(self, make: MakeStore) -> None:
        store = make(session_bytes=25, session_entries=3)
        store.cache_file("o", fw("a", b"x" * 9))
        store.cache_file("s", fw("a", b"x" * 9))
        store.cache_analysis("s", "a", "t", b"x" * 7)  # 9 bytes
        store.cache_file("s", fw("b", b"x" * 9))  # 29 > 25: evicts file "a" of s
        assert store.get_file("s", "a") is None
        assert store.get_analysis("s", "a", "t") is not None
        assert store.get_file("o", "a") is not None
        store.cache_analysis("s", "b", "t1", b"")
        store.cache_analysis("s", "b", "t2", b"")  # 4 entries > 3: file "b" is the LRU now
        assert store.get_file("s", "b") is None
        assert store.stats("s") == Stats(0, 3, 9 + 3 + 3, 1, hits=1, misses=2, evictions=2)
        assert store.stats("o").evictions == 0

    @pytest.mark.parametrize(
        ("budgets", "limit"),
        [({"total_bytes": 20}, "total_bytes"), ({"session_bytes": 20}, "session_bytes")],
    )
    def test_an_item_larger_than_a_budget_raises_and_stores_nothing(
        self, make: MakeStore, budgets: dict[str, int], limit: str
    ) -> None:
        store = make(**budgets)
        store.cache_file("s", fw("a", b"x" * 19))  # exactly 20: fits
        with pytest.raises(QuotaExceeded) as err:
            store.cache_file("s", fw("b", b"x" * 20))
        assert err.value.limit == limit
        with pytest.raises(QuotaExceeded) as err:
            store.cache_analysis("n", "a", "t", b"x" * 19)
        assert err.value.limit == limit
        assert store.get_file("s", "b") is None and store.get_file("s", "a") is not None
        assert store.store_stats() == Stats(1, 0, 20, 1, hits=1, misses=1)

    # -- stats -------------------------------------------------------------------

    def test_hits_and_misses_per_namespace_and_store(self, store: Store) -> None:
        assert store.get_file("ghost", "a") is None  # store-wide only
        assert store.stats("ghost") == Stats()
        store.cache_file(None, fw("a", b"x"))
        store.cache_analysis("s", "a", "t", b"r")
        store.get_file(None, "a")
        store.get_metadata(None, "b")
        store.get_analysis("s", "a", "t")
        store.get_analysis("s", "a", "u")
        store.batch_get_files("s", ["a", "b"])
        assert store.stats(None) == Stats(1, 0, 2, 1, hits=1, misses=1)
        assert store.stats("s") == Stats(0, 1, 3, 1, hits=1, misses=3)
        assert store.store_stats() == Stats(1, 1, 5, 2, hits=2, misses=5)
