"""Figures of the Redis backend measured on Redis itself, without a server: R3
(ClearSession against the number of other entries) and R4 (Redis memory per
cached file against plain ``SET`` keys).

The backend (``RedisStore``) runs in this process; each side of a ratio has
its own fresh redis-server, pinned to the server CPU (``procs.redis_server``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import redis

from benchmarks import procs
from benchmarks.figures import Figure, Measure, Target
from benchmarks.store import Timer, clear_seconds
from contextstore.server.store.base import Budgets, FileWrite
from contextstore.server.store.redis import RedisStore, Settings, layout
from contextstore.units import format_size

PREFIX = "cs:"
NO_LIMITS = Budgets(total_bytes=0, session_ttl_seconds=0)
FILLER = b"f" * 16  # R3 is about counts of entries, not their bytes
CONTENT_BYTES = 1024
PIPELINE = 1000  # commands per round trip when filling


@contextmanager
def redis_store() -> Iterator[tuple[RedisStore, procs.RedisProcess]]:
    """A ``RedisStore`` (no budgets, no expiry) over a fresh redis-server of its own."""
    with procs.redis_server() as server:
        store = RedisStore(
            Settings(server.url, timeout_seconds=60.0, connections=2),
            key_prefix=PREFIX,
            budgets=NO_LIMITS,
        )
        try:
            yield store, server
        finally:
            store.close()


def _raw(server: procs.RedisProcess) -> redis.Redis:
    return redis.Redis(port=server.port, socket_timeout=60.0)


# -- figure R3: ClearSession against the other entries ---------------------------


def fill(store: RedisStore, server: procs.RedisProcess, entries: int, *, per_session: int) -> None:
    """``entries`` 16-byte files in sessions of ``per_session`` files each.

    The first session is written by the backend (``batch_cache_files``); the
    others are server-side ``COPY``s of its two keys, each listed in its own
    bucket's index as the function would, under the names ``layout`` gives it:
    a million entries in under a second, where the function alone writes
    about 30,000 a second (it keeps recency, counters and versions per entry).
    That they are whole entries of the store is checked: ``store_stats`` must
    count every one.
    """
    sessions = max(1, entries // per_session)
    paths = [f"src/pkg/module_{i}.py" for i in range(per_session)]
    store.batch_cache_files("filler-0", [FileWrite(p, FILLER) for p in paths])
    names = layout.Layout(PREFIX)
    source = names.namespace("filler-0")
    with _raw(server) as client:
        last_use = client.zscore(source.idle, source.id)
        pipe = client.pipeline(transaction=False)
        for k in range(1, sessions):
            copy = names.namespace(f"filler-{k}")
            pipe.copy(source.data, copy.data)
            pipe.copy(source.recency, copy.recency)
            pipe.zadd(copy.idle, {copy.id: last_use or 0.0})
            if len(pipe) >= PIPELINE:
                pipe.execute()
        pipe.execute()
    counted = store.store_stats().files
    if counted != sessions * per_session:
        raise RuntimeError(
            f"filled {sessions * per_session:,} entries, the store counts {counted:,}"
        )


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def clear_cost(
    *,
    small: int = 10_000,
    large: int = 1_000_000,
    session_entries: int = 100,
    clears: int = 400,
    timer: Timer = time.perf_counter,
) -> Figure:
    """Figure R3: ClearSession of a 100-entry session, ``large`` other entries ÷ ``small``."""
    writes = [
        FileWrite(f"src/app/file_{i}.py", b"x" * CONTENT_BYTES) for i in range(session_entries)
    ]
    with redis_store() as (few, few_server), redis_store() as (many, many_server):
        filled = [
            _timed(partial(fill, store, server, n, per_session=session_entries))
            for store, server, n in ((few, few_server, small), (many, many_server, large))
        ]
        times: list[list[float]] = [[], []]
        for _ in range(clears):  # interleaved, so drift falls on both sizes
            for which, store in enumerate((few, many)):
                times[which].append(clear_seconds(store, writes, timer=timer))
    small_us, large_us = (statistics.median(t) * 1e6 for t in times)
    what = (
        f"median ClearSession of a freshly filled {session_entries}-entry session "
        "(1 KiB files), RedisStore in process, one round trip"
    )
    return Figure(
        key="R3",
        title="Redis backend: ClearSession cost does not grow with the other entries",
        numerator=Measure(large_us, "µs", f"{what}, {large:,} other entries"),
        denominator=Measure(small_us, "µs", f"{what}, {small:,} other entries"),
        target=Target("<=", 1.5),
        notes=(
            f"{clears} clears per size, interleaved; each side its own redis-server "
            f"pinned to CPU {procs.SERVER_CPU}",
            f"other entries: 16-byte files in sessions of {session_entries} "
            f"({large // session_entries:,} sessions, so about "
            f"{2 * (large // session_entries):,} Redis keys, against "
            f"{2 * (small // session_entries):,}): what grows is the keyspace, not the session. "
            f"Filled in {filled[1]:.2f} s ({large:,}) and {filled[0]:.2f} s ({small:,}): one "
            "session by the backend, the rest COPYs of its keys; store_stats counts them all",
        ),
    )


# -- figure R4: Redis memory per cached file --------------------------------------


def _content(i: int, size: int) -> bytes:
    return i.to_bytes(8, "little") * (size // 8)  # distinct, as real files are


def _path(i: int) -> str:
    return f"src/pkg_{i % 100}/module_{i}.py"


def used_memory(server: procs.RedisProcess) -> int:
    """Redis's ``used_memory`` with every other client gone (their buffers count too)."""
    with _raw(server) as client:
        client.client_kill_filter(_type="normal", skipme=True)
        used: int = client.info("memory")["used_memory"]
        return used


@dataclass(frozen=True, slots=True)
class Growth:
    bytes: int
    seconds: float


def _ours(files: int, per_session: int, size: int) -> Growth:
    with redis_store() as (store, server):
        before = used_memory(server)
        start = time.perf_counter()
        for first in range(0, files, per_session):
            batch = range(first, min(first + per_session, files))
            writes = [FileWrite(_path(i), _content(i, size)) for i in batch]
            store.batch_cache_files(f"agent-{first // per_session}", writes)
        seconds = time.perf_counter() - start
        if store.store_stats().files != files:
            raise RuntimeError("the backend does not count every file it was given")
        return Growth(used_memory(server) - before, seconds)


def _plain(files: int, size: int) -> Growth:
    with procs.redis_server() as server:
        before = used_memory(server)
        start = time.perf_counter()
        with _raw(server) as client:
            pipe = client.pipeline(transaction=False)
            for i in range(files):
                pipe.set(_path(i), _content(i, size))
                if len(pipe) >= PIPELINE:
                    pipe.execute()
            pipe.execute()
            if client.dbsize() != files:
                raise RuntimeError("plain SET keys are missing")
        return Growth(used_memory(server) - before, time.perf_counter() - start)


def memory_per_file(
    *, files: int = 100_000, per_session: int = 1000, content_bytes: int = CONTENT_BYTES
) -> Figure:
    """Figure R4: Redis bytes per cached 1 KiB file, our backend ÷ plain ``SET path content``.

    ``content_bytes``: another file size, for docs/scaling.md's sums; the
    suite measures 1 KiB.
    """
    ours, plain = _ours(files, per_session, content_bytes), _plain(files, content_bytes)
    ours_each, plain_each = ours.bytes / files, plain.bytes / files
    return Figure(
        key="R4",
        title=f"Redis backend: Redis memory per cached {format_size(content_bytes)} file, "
        "ours ÷ plain SET keys",
        numerator=Measure(
            ours_each,
            "B/file",
            f"used_memory growth over {files:,} files cached by RedisStore "
            f"({files // per_session:,} sessions of {per_session:,})",
        ),
        denominator=Measure(
            plain_each, "B/file", f"used_memory growth over the same {files:,} SET path content"
        ),
        target=Target("<=", 1.5),
        notes=(
            f"distinct {format_size(content_bytes)} contents; each side a fresh redis-server; "
            "beyond the content: "
            f"ours {ours_each - content_bytes:,.0f} B, plain {plain_each - content_bytes:,.0f} B "
            "a file",
            "ours keeps per file: an 18-byte record head (charge, tail length), the metadata "
            "in wire form as reads send it (digest, size, cached_at, version: about 55 bytes), "
            "and the path as the hash field (twice, with a recency score, under a session budget)",
            f"written in {ours.seconds:.1f} s (ours, one call of {per_session:,} files a session) "
            f"and {plain.seconds:.1f} s (plain, pipelined)",
        ),
    )
