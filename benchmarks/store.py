"""Figures measured on the store itself, in process: 3 (clear cost against store
size), 4a (striped locks against one global lock) and the store's side of 4b.

No server, no network: these isolate the in-memory backend (``StripedStore``),
so they say what the store costs, not what a call to the server costs. Both
sides of a ratio run in the same process, alternating round by round, and each
side is the median of its rounds.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import procs
from benchmarks.figures import Figure, Measure, Target, alternate
from contextstore.server.store.base import Budgets, FileWrite, Namespace, Store
from contextstore.server.store.memory import StripedStore

Timer = Callable[[], float]
NO_LIMITS = Budgets(total_bytes=0, session_ttl_seconds=0)
CONTENT = b"x" * 1024
SESSIONS: list[Namespace] = [None, *(f"agent-{i}" for i in range(7))]


# -- figure 3: ClearSession against store size -----------------------------------


def _filled_store(entries: int, *, filler_sessions: int) -> StripedStore:
    """A store holding ``entries`` small files spread over ``filler_sessions`` sessions."""
    store = StripedStore(budgets=NO_LIMITS)
    per_session = max(1, entries // filler_sessions)
    payload = b"f" * 16  # one shared object: the filler costs bookkeeping only
    for s in range(filler_sessions):
        paths = [f"src/pkg_{s}/module_{i}.py" for i in range(per_session)]
        for start in range(0, per_session, 1000):
            writes = [FileWrite(p, payload) for p in paths[start : start + 1000]]
            store.batch_cache_files(f"filler-{s}", writes)
    return store


def clear_seconds(store: Store, writes: list[FileWrite], *, timer: Timer) -> float:
    """Time of one ClearSession of a freshly filled session of ``len(writes)`` files."""
    store.batch_cache_files("cleared", writes)
    start = timer()
    removed = store.clear_session("cleared")
    elapsed = timer() - start
    if removed.files != len(writes):  # a clear that found nothing measures nothing
        raise RuntimeError(f"cleared {removed.files} files of {len(writes)}")
    return elapsed


def clear_cost(
    *,
    small: int = 10_000,
    large: int = 1_000_000,
    session_entries: int = 100,
    clears: int = 400,
    timer: Timer = time.perf_counter,
) -> Figure:
    """Figure 3: ClearSession of a 100-entry session, large store ÷ small store."""
    stores = [_filled_store(n, filler_sessions=100) for n in (small, large)]
    writes = [FileWrite(f"src/app/file_{i}.py", CONTENT) for i in range(session_entries)]
    times: list[list[float]] = [[], []]
    for _ in range(clears):  # interleaved, so drift falls on both sizes
        for which, store in enumerate(stores):
            times[which].append(clear_seconds(store, writes, timer=timer))
    small_us, large_us = (statistics.median(t) * 1e6 for t in times)
    what = f"median ClearSession of a {session_entries}-entry session, in-process StripedStore"
    return Figure(
        key="3",
        title="ClearSession cost does not grow with the store",
        numerator=Measure(large_us, "µs", f"{what}, {large:,} other entries"),
        denominator=Measure(small_us, "µs", f"{what}, {small:,} other entries"),
        target=Target("<=", 1.5),
        notes=(
            f"in-process (no server); {clears} clears per size, interleaved",
            "filler: 16-byte files in 100 sessions; the cleared session: 1 KiB files",
        ),
    )


# -- figures 4a and 4b: mixed workload ---------------------------------------------


@dataclass(frozen=True, slots=True)
class MixedLoad:
    """A mixed workload over several sessions: gets, caches, analyses, invalidations."""

    paths: int = 200
    ops_per_thread: int = 10_000


def _preload(store: StripedStore, load: MixedLoad) -> None:
    for ns in SESSIONS:
        store.batch_cache_files(ns, [FileWrite(f"src/m{i}.py", CONTENT) for i in range(load.paths)])


Op = tuple[float, Namespace, str]


def _plan_ops(load: MixedLoad, seed: int) -> list[Op]:
    """One thread's share of the workload, drawn before the clock starts.

    Drawing it inside the timed loop cost about a fifth of the loop (random's
    Python code), which a store measure must not count.
    """
    rnd = random.Random(seed)
    return [
        (rnd.random(), rnd.choice(SESSIONS), f"src/m{rnd.randrange(load.paths)}.py")
        for _ in range(load.ops_per_thread)
    ]


def _mixed_ops(store: StripedStore, ops: list[Op]) -> int:
    """Run one thread's share of the workload; returns the operations done."""
    for op, ns, path in ops:
        if op < 0.60:
            store.get_file_wire(ns, path)  # what GetFile calls
        elif op < 0.75:
            store.cache_file(ns, FileWrite(path, CONTENT))
        elif op < 0.85:
            store.cache_analysis(ns, path, "ast", b"tree")
        elif op < 0.95:
            store.get_analysis(ns, path, "ast")
        else:
            store.invalidate_file(ns, path)
    return len(ops)


def mixed_rate(
    stripes: int, load: MixedLoad, *, threads: int, timer: Timer = time.perf_counter
) -> float:
    """Operations/s of ``threads`` threads running the mixed workload on a fresh store."""
    store = StripedStore(stripes=stripes, budgets=NO_LIMITS)
    _preload(store, load)
    barrier = threading.Barrier(threads + 1)

    def body(ops: list[Op]) -> None:
        barrier.wait()
        _mixed_ops(store, ops)

    work = [threading.Thread(target=body, args=(_plan_ops(load, seed),)) for seed in range(threads)]
    for t in work:
        t.start()
    barrier.wait()
    start = timer()
    for t in work:
        t.join()
    return threads * load.ops_per_thread / (timer() - start)


def striping(*, load: MixedLoad | None = None, threads: int = 16, rounds: int = 5) -> Figure:
    """Figure 4a: mixed workload ops/s, 64 stripes ÷ one global lock, 16 threads."""
    load = load or MixedLoad()
    striped, single = alternate(
        rounds,
        lambda: mixed_rate(64, load, threads=threads),
        lambda: mixed_rate(1, load, threads=threads),
    )
    what = f"mixed workload, {threads} threads, {len(SESSIONS)} sessions, in-process"
    return Figure(
        key="4a",
        title="Striped locks against one global lock",
        numerator=Measure(striped, "ops/s", f"StripedStore(stripes=64), {what}"),
        denominator=Measure(single, "ops/s", f"StripedStore(stripes=1), {what}"),
        target=Target(">=", 1.0),
        notes=(
            "60% GetFile, 15% CacheFile, 10% CacheAnalysis, 10% GetAnalysis, 5% InvalidateFile",
            f"1 KiB files, {load.paths} paths per session; medians of {rounds} alternating rounds",
            "one namespace lives in one stripe, so stripes split sessions, not paths",
        ),
    )


def store_rate(*, load: MixedLoad | None = None, rounds: int = 3) -> Measure:
    """Figure 4b's numerator: the store's single-thread mixed ops/s, in process."""
    load = load or MixedLoad(ops_per_thread=200_000)
    # On the CPU the floor is pinned to: both sides of 4b served from the same core.
    with procs.on_cpu(procs.SERVER_CPU):
        rate = statistics.median(mixed_rate(64, load, threads=1) for _ in range(rounds))
    what = (
        f"StripedStore(stripes=64), mixed workload, 1 thread, in-process on CPU "
        f"{procs.SERVER_CPU}, 1 KiB files"
    )
    return Measure(rate, "ops/s", what)
