"""The contract's tests of many threads at once, a mixin of ``StoreContract``.

Every written payload names its namespace, path, writer thread and sequence
number, so a reader can tell whose bytes it got. Threads start together on a
``threading.Barrier``; nothing sleeps. A tiny GIL switch interval makes the
interpreter interleave threads far more often than by default.
"""

from __future__ import annotations

import hashlib
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest
from support import FakeClock

from contextstore.server.store.base import Budgets, FileWrite, Namespace

if TYPE_CHECKING:
    from server.store.contract import Backend

THREADS = 8
NAMESPACES: list[Namespace] = [None, "s0", "s1", "global"]
PATHS = [f"p{i}" for i in range(6)]
TYPES = ["t1", "t2"]
NO_BUDGETS = Budgets(total_bytes=0, session_ttl_seconds=0)
TraceFunction = Any  # sys.settrace's callback type is not public


def run_threads(work: Callable[[int], None], count: int = THREADS) -> None:
    """Run ``work(thread_index)`` in ``count`` threads started together."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:  # reported below, with its traceback
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "deadlock: threads still running"


def tag(*parts: object) -> bytes:
    return "|".join(map(str, parts)).encode()


def owner(payload: bytes) -> list[str]:
    return payload.decode().split("|")


def switch_between_bytecodes(frame: FrameType, event: str, arg: object) -> TraceFunction | None:
    """A trace function that lets threads switch between any two bytecodes of the store.

    CPython with the GIL only switches threads at some instructions, which
    hides races that other interpreters (free-threaded ones) would show: with
    this tracer every opcode of the store's own code is a possible switch.
    """
    if "contextstore/server/store" not in frame.f_code.co_filename:
        return None
    frame.f_trace_opcodes = True
    if event == "opcode":
        time.sleep(0)
    return switch_between_bytecodes


class ThreadContract:
    """Atomicity, budgets and counts under many threads; ``StoreContract`` includes it."""

    @pytest.fixture(autouse=True)
    def frequent_thread_switches(self) -> Iterator[None]:
        before = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        yield
        sys.setswitchinterval(before)

    def test_threads_never_see_foreign_or_torn_entries(self, backend: Backend) -> None:
        store = backend(NO_BUDGETS, wall_clock=lambda: 7)
        # Per thread: last payload it wrote per (ns, path, kind), and what it saw.
        last: list[dict[tuple[Namespace, str, str | None], bytes]] = [{} for _ in range(THREADS)]
        seen = [[0, 0] for _ in range(THREADS)]  # [found, missing]

        def check_file(me: int, ns: Namespace, path: str, found: object) -> None:
            if found is None:
                seen[me][1] += 1
                return
            seen[me][0] += 1
            content, meta = found.content, found.metadata  # type: ignore[attr-defined]
            assert owner(content)[:2] == [str(ns), path]
            assert meta.path == path and meta.size == len(content)
            assert meta.sha256 == hashlib.sha256(content).digest()

        def work(me: int) -> None:
            rnd = random.Random(me)
            versions: dict[tuple[Namespace, str], tuple[int, int]] = {}
            for i in range(1500):
                ns, path, kind = rnd.choice(NAMESPACES), rnd.choice(PATHS), rnd.choice(TYPES)
                op = rnd.randrange(100)
                if op < 25:
                    payload = tag(ns, path, me, i)
                    meta = store.cache_file(ns, FileWrite(path, payload))
                    last[me][(ns, path, None)] = payload
                    # Own successive writes of a path: version and cached_at grow,
                    # although the wall clock is stuck.
                    now = (meta.version, meta.cached_at_ns)
                    prev = versions.get((ns, path), (-1, -1))
                    assert now[0] > prev[0] and now[1] > prev[1]
                    versions[(ns, path)] = now
                elif op < 35:
                    chosen = rnd.sample(PATHS, 3)
                    store.batch_cache_files(ns, [FileWrite(p, tag(ns, p, me, i)) for p in chosen])
                    for p in chosen:
                        last[me][(ns, p, None)] = tag(ns, p, me, i)
                elif op < 50:
                    store.cache_analysis(ns, path, kind, tag(ns, path, me, i, kind))
                    last[me][(ns, path, kind)] = tag(ns, path, me, i, kind)
                elif op < 65:
                    check_file(me, ns, path, store.get_file(ns, path))
                elif op < 75:
                    for p, got in zip(PATHS, store.batch_get_files(ns, PATHS), strict=True):
                        check_file(me, ns, p, got)
                elif op < 90:
                    found = store.get_analysis(ns, path, kind)
                    seen[me][found is None] += 1
                    if found is not None:
                        parts = owner(found.result)
                        assert (parts[0], parts[1], parts[-1]) == (str(ns), path, kind)
                elif op < 95:
                    store.invalidate_file(ns, path)
                elif op < 98:
                    store.invalidate_analysis(ns, path, rnd.choice([None, kind]))
                else:
                    store.clear_session(ns)

        run_threads(work)

        whole = store.store_stats()
        assert (whole.hits, whole.misses) == (sum(s[0] for s in seen), sum(s[1] for s in seen))
        files = analyses = total = sessions = 0
        for ns in NAMESPACES:
            ns_files = ns_analyses = ns_bytes = 0
            for path in PATHS:
                for kind in [None, *TYPES]:
                    got = (
                        store.get_file(ns, path)
                        if kind is None
                        else store.get_analysis(ns, path, kind)
                    )
                    if got is None:
                        continue
                    payload = got.content if kind is None else got.result  # type: ignore[union-attr]
                    # Whatever is left was the last write of some thread to that key.
                    assert payload in {t.get((ns, path, kind)) for t in last}
                    ns_files += kind is None
                    ns_analyses += kind is not None
                    ns_bytes += len(payload) + len(path) + len(kind or "")
            stats = store.stats(ns)
            assert (stats.files, stats.analyses, stats.bytes) == (ns_files, ns_analyses, ns_bytes)
            files, analyses, total = files + ns_files, analyses + ns_analyses, total + ns_bytes
            sessions += stats.sessions
        whole = store.store_stats()
        assert (whole.files, whole.analyses, whole.bytes, whole.sessions) == (
            files,
            analyses,
            total,
            sessions,
        )

    def test_batches_are_all_or_nothing_against_clears_and_expiry(self, backend: Backend) -> None:
        clock = FakeClock(0.0)
        store = backend(Budgets(total_bytes=0, session_ttl_seconds=5), timer=clock)
        group = PATHS[:5]
        torn: list[list[bytes | None]] = []
        writers = [0, 1, 4, 5]
        finished = {w: threading.Event() for w in writers}

        def work(me: int) -> None:
            rnd = random.Random(100 + me)
            if me == 3:  # the clock ticks for as long as writers write
                while not all(e.is_set() for e in finished.values()):
                    clock.now += 5  # = the TTL: untouched since the last step means idle
                    store.expire_idle()
                return
            try:
                for i in range(1200):
                    ns = rnd.choice(NAMESPACES)
                    if me in writers:  # every batch writes the whole group
                        store.batch_cache_files(ns, [FileWrite(p, tag(me, i)) for p in group])
                    elif me in (2, 6):  # readers: a snapshot shows one batch, or nothing
                        got = [
                            g.content if g is not None else None
                            for g in store.batch_get_files(ns, group)
                        ]
                        if len(set(got)) != 1:
                            torn.append(got)
                    else:
                        store.clear_session(ns)
            finally:
                if me in writers:
                    finished[me].set()

        run_threads(work)
        assert torn == []
        assert store.store_stats().expirations > 0
        for ns in NAMESPACES:
            stats = store.stats(ns)
            assert stats.files in (0, len(group)) and stats.analyses == 0

    def test_session_budgets_hold_after_concurrent_writes(self, backend: Backend) -> None:
        budgets = Budgets(total_bytes=0, session_bytes=100, session_entries=6)
        store = backend(budgets)

        def work(me: int) -> None:
            rnd = random.Random(300 + me)
            for i in range(1200):
                ns, path = rnd.choice(NAMESPACES), rnd.choice(PATHS)
                if rnd.randrange(2):
                    store.cache_file(ns, FileWrite(path, tag(me, i)[: rnd.randrange(1, 30)]))
                else:
                    store.cache_analysis(ns, path, rnd.choice(TYPES), b"r" * rnd.randrange(20))

        run_threads(work)
        for ns in NAMESPACES:
            stats = store.stats(ns)
            assert stats.bytes <= 100 and stats.files + stats.analyses <= 6
            assert stats.evictions > 0

    def test_expiries_on_many_stripes_at_once_are_all_counted(self, backend: Backend) -> None:
        # Each thread expires its own sessions, which hash to many stripes: the
        # expirations count must not lose an increment made under another lock.
        clock = FakeClock(0.0)
        store = backend(Budgets(session_ttl_seconds=10), timer=clock)
        sessions = [f"idle-{i}" for i in range(400)]
        for session in sessions:
            store.cache_file(session, FileWrite("p", b"x"))
        clock.now = 100.0

        def work(index: int) -> None:
            sys.settrace(switch_between_bytecodes)
            try:
                for session in sessions[index::THREADS]:
                    assert store.get_file(session, "p") is None
            finally:
                sys.settrace(None)

        run_threads(work)

        assert store.store_stats().expirations == len(sessions)
