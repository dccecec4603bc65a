"""Figures measured through the server: F1 (GetFile against the floor), F2
(BatchGetFiles against today's implementation), F3 (one client's latency
against the floor), F4 (the Redis backend's GetFile), 2 (batch throughput
against Redis), R2 (the Redis backend's BatchGetFiles) and S1 (security).

Load comes from ghz, a Go load generator cheap enough per call that the
server, not the client, is what is measured; redis-benchmark plays the same
part for Redis, and h2load gives F1 a second, unpinned measure. Batches come
from h2load: ghz decodes every 100 KiB answer, and on a slower CPU that made
ghz, not the server, the bottleneck (ghz at 97-99% of its CPU, the server at
68-78%); h2load only counts the bytes (under 10% of its CPU). Servers (and
the Redis a server stores into) are pinned to one CPU and load generators to
the other (see ``procs``), and the sides of a ratio alternate round by round,
so drift in the machine's load falls on all. Figures that share a side share
its runs: F1, F4, S1 (and 4b) the GetFile runs, F2, 2 and R2 the
BatchGetFiles runs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format

from benchmarks import floor, procs, secure
from benchmarks.figures import Figure, Measure, Target, alternate_many
from contextstore.bench.localserver import LocalServer
from contextstore.client import ContextStoreClient, FileUpload
from contextstore.v1 import context_store_pb2 as pb

SESSION = "bench"
BATCH = 100
REDIS_CLIENTS = 32
H2LOAD_CLIENTS = 8
H2LOAD_STREAMS = 16
GET_FILE = "contextstore.v1.ContextStoreService/GetFile"


@dataclass(frozen=True, slots=True)
class ServiceScale:
    """How much load each measurement gets; the suite's ``--quick`` shrinks it.

    Calls per run: a few seconds of load for each side. The Redis backend's
    sides (F4, R2) run about half as fast as the memory backend's and share
    the suite's time budget, so runs are shorter than a single pair's would be.
    """

    rounds: int = 3
    unary_calls: int = 25_000
    batch_calls: int = 3_000
    redis_requests: int = 200_000
    concurrency: int = 16
    h2load_calls: int = 30_000
    """F1's unpinned runs: h2load, ``H2LOAD_CLIENTS`` x ``H2LOAD_STREAMS`` in flight."""
    sequential_calls: int = 5_000
    """F3's runs: one call in flight."""
    sequential_rounds: int = 5


@dataclass(frozen=True, slots=True)
class Load:
    """One closed-loop load: an RPC, its request, and the files it reads.

    From ghz, or (``h2load``) from h2load with ``concurrency`` streams on one
    connection, as ghz would send them, pinned alike.
    """

    rpc: str
    request: dict[str, object]
    paths: list[str]
    calls: int
    concurrency: int
    protoset: Path
    h2load: bool = False


def preload_files(address: str, paths: list[str], secured: secure.Secured | None) -> None:
    with secured.client(address) if secured else ContextStoreClient(address) as client:
        session = client.session(SESSION)
        session.batch_cache_files([FileUpload(p, floor.CONTENT) for p in paths])


def _ghz(address: str, load: Load, calls: int, secured: secure.Secured | None) -> procs.LoadResult:
    return procs.ghz(
        address, load.rpc, load.request,
        protoset_path=load.protoset, concurrency=load.concurrency, calls=calls,
        tls_flags=secured.ghz_flags() if secured else (),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rate:
    """One closed-loop run: calls/s, and the CPU time each call cost the server and its Redis."""

    per_second: float
    server_cpu_us: float
    redis_cpu_us: float = 0.0
    p50_us: float = 0.0
    """The median call's latency, where the load generator reports it (ghz)."""


Rounds = Mapping[str, Sequence[Rate]]
"""Each side's runs, one a round, from ``alternate_many``."""

MEMORY = "memory"
FLOOR = "floor"
H2_MEMORY = "memory, h2load"
H2_FLOOR = "floor, h2load"
REDIS = "redis"
SECURED = "secured"
PLAIN = "today's"
YARDSTICK = "redis-benchmark"


def median(runs: Sequence[Rate], what: Callable[[Rate], float]) -> float:
    return statistics.median(what(run) for run in runs)


def rate(runs: Sequence[Rate]) -> float:
    return median(runs, lambda run: run.per_second)


def server_rate(
    load: Load,
    *,
    flags: Sequence[str] = (),
    command: Sequence[str] | None = None,
    redis: procs.RedisProcess | None = None,
    secured: secure.Secured | None = None,
    preload: bool = True,
) -> Rate:
    """``load`` against a fresh server (``command``: another) after a warm-up.

    CPU times are read from /proc around the measured run, for the server and
    for ``redis``, the Redis it stores into, if any. ``secured``: the server
    serves mTLS with token auth and metrics, and every call presents them.
    ``preload=False`` for the floor, which stores nothing.
    """
    flags = (*flags, *secured.server_flags()) if secured else tuple(flags)
    with procs.contextstore_server(*flags, command=command) as server:
        if preload:
            preload_files(server.address, load.paths, secured)
        warm_up(server, load, secured)
        return measure(server, load, redis=redis, secured=secured)


def _sender(load: Load) -> Callable[[str, Load, int, secure.Secured | None], procs.LoadResult]:
    return _pinned_h2load if load.h2load else _ghz


def warm_up(server: LocalServer, load: Load, secured: secure.Secured | None = None) -> None:
    """A tenth of ``load``, unmeasured: connections made, caches and allocators warm."""
    _sender(load)(server.address, load, max(load.calls // 10, load.concurrency), secured)


def measure(
    server: LocalServer,
    load: Load,
    *,
    redis: procs.RedisProcess | None = None,
    secured: secure.Secured | None = None,
) -> Rate:
    """One run of ``load`` against a running ``server``, and the CPU it cost it (and ``redis``)."""
    send = _sender(load)
    pids = [server.pid] + ([redis.pid] if redis else [])
    before = [procs.cpu_seconds(pid) for pid in pids]
    result = send(server.address, load, load.calls, secured)
    used = [procs.cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
    if result.errors:
        raise RuntimeError(f"{load.rpc} load failed: {result.errors}")
    server_us, *redis_us = (1e6 * seconds / result.count for seconds in used)
    return Rate(result.rps, server_us, sum(redis_us), result.p50_us)


def _pinned_h2load(
    address: str, load: Load, calls: int, secured: secure.Secured | None
) -> procs.LoadResult:
    """``load`` from h2load on the load CPU, every call proven served by the hit counter.

    h2load cannot read gRPC statuses; each call of a load reads ``load.paths``,
    all preloaded, so the session's hits must grow by exactly that many a call.
    """
    assert secured is None, "h2load sends no client certificate or token"
    request = json_format.ParseDict(load.request, getattr(pb, f"{load.rpc}Request")())
    before = _hits(address)
    result = procs.h2load(
        address, f"contextstore.v1.ContextStoreService/{load.rpc}", request.SerializeToString(),
        calls=calls, clients=1, streams=load.concurrency, cpu=procs.LOAD_CPU,
    )  # fmt: skip
    served = (_hits(address) - before) // len(load.paths)
    errors = {} if result.succeeded == served == calls else {"unserved": calls - served}
    return procs.LoadResult(result.rps, calls, errors, math.nan)


def h2load_rate(calls: int, *, ours: bool) -> Rate:
    """GetFile from h2load against a fresh server, ours or the floor, both unpinned.

    h2load cannot read gRPC statuses (they travel in trailers, after an HTTP
    200), so every call is proven served: by our server's own hit counter, or
    by the bytes of the floor's fixed answer in h2load's traffic totals.
    """
    command = None if ours else procs.FLOOR_SERVER
    with procs.contextstore_server(command=command, pin=False) as server:
        if ours:
            preload_files(server.address, [floor.PATH], None)
        _h2load(server.address, max(calls // 10, H2LOAD_CLIENTS * H2LOAD_STREAMS))  # warm-up
        hits = _hits(server.address) if ours else 0
        cpu = procs.cpu_seconds(server.pid)
        result = _h2load(server.address, calls)
        cpu = procs.cpu_seconds(server.pid) - cpu
        served = _hits(server.address) - hits if ours else _floor_answers(result)
    if not result.succeeded == served == calls:
        raise RuntimeError(
            f"h2load: {calls} GetFile calls, {result.succeeded} answered, {served} served"
        )
    return Rate(result.rps, 1e6 * cpu / calls)


def _h2load(address: str, calls: int) -> procs.H2loadResult:
    request = pb.GetFileRequest(session_id=SESSION, path=floor.PATH).SerializeToString()
    return procs.h2load(
        address, GET_FILE, request, calls=calls, clients=H2LOAD_CLIENTS, streams=H2LOAD_STREAMS
    )


def _hits(address: str) -> int:
    with ContextStoreClient(address) as client:
        return client.session(SESSION).stats().hits


def _floor_answers(result: procs.H2loadResult) -> int:
    """Calls the floor answered in full: its data bytes in whole framed answers, or -1."""
    answer = len(procs.grpc_frame(floor.response_bytes()))
    whole, rest = divmod(result.data_bytes, answer)
    return whole if rest == 0 else -1


def redis_flags(redis: procs.RedisProcess) -> tuple[str, ...]:
    """``contextstore serve`` flags storing into ``redis``."""
    return ("--backend", "redis", "--redis-url", redis.url)


@contextmanager
def _redis_if(wanted: bool) -> Iterator[procs.RedisProcess | None]:
    """One redis-server for every round of a Redis backend side, if there is one."""
    if not wanted:
        yield None
        return
    with procs.redis_server() as redis:
        yield redis


def _server_sides(
    load: Load,
    redis: procs.RedisProcess | None,
    sides: Collection[str],
    secured: secure.Secured | None = None,
    h2load_calls: int = 0,
) -> dict[str, Callable[[], Rate]]:
    def on_redis() -> Rate:
        assert redis is not None
        return server_rate(load, flags=redis_flags(redis), redis=redis)

    every: dict[str, Callable[[], Rate]] = {
        MEMORY: lambda: server_rate(load),
        FLOOR: lambda: server_rate(load, command=procs.FLOOR_SERVER, preload=False),
        H2_MEMORY: lambda: h2load_rate(h2load_calls, ours=True),
        H2_FLOOR: lambda: h2load_rate(h2load_calls, ours=False),
        PLAIN: lambda: server_rate(load, command=procs.PLAIN_SERVER),
        REDIS: on_redis,
        SECURED: lambda: server_rate(load, secured=secured),
    }
    return {name: run for name, run in every.items() if name in sides}


# -- GetFile: figures F1, F3, F4, S1 (and 4b's denominator) ---------------------------


def get_file_load(scale: ServiceScale, protoset: Path, *, concurrency: int, calls: int) -> Load:
    request: dict[str, object] = {"session_id": SESSION, "path": floor.PATH}
    return Load("GetFile", request, [floor.PATH], calls, concurrency, protoset)


def get_file_how(scale: ServiceScale) -> str:
    return f"ghz, {scale.concurrency} calls in flight, 1 KiB file"


def get_file_rounds(scale: ServiceScale, *, protoset: Path, sides: Collection[str]) -> Rounds:
    """GetFile runs of ``sides`` (MEMORY, FLOOR, H2_*, REDIS, SECURED) in alternating rounds.

    F1, F4 and S1 share the memory backend's runs, F1 and 4b the floor's.
    """
    load = get_file_load(scale, protoset, concurrency=scale.concurrency, calls=scale.unary_calls)
    with _redis_if(REDIS in sides) as redis, secure.secured() as secured:
        runs = _server_sides(load, redis, sides, secured, h2load_calls=scale.h2load_calls)
        return alternate_many(scale.rounds, runs)


def sequential_rounds(scale: ServiceScale, *, protoset: Path) -> Rounds:
    """F3: GetFile with one call in flight, ours (MEMORY) and the FLOOR's, alternating."""
    load = get_file_load(scale, protoset, concurrency=1, calls=scale.sequential_calls)
    return alternate_many(scale.sequential_rounds, _server_sides(load, None, (MEMORY, FLOOR)))


def floor_rate(scale: ServiceScale, rounds: Rounds) -> Measure:
    """The floor's GetFile calls/s from ``rounds`` (F1's ghz runs): figure 4b's denominator."""
    return Measure(
        rate(rounds[FLOOR]), "calls/s", f"the floor's GetFile, F1's runs ({get_file_how(scale)})"
    )


def redis_get_file(scale: ServiceScale, rounds: Rounds) -> Figure:
    """Figure F4 (R1 of the Redis issue): GetFile calls/s, Redis backend ÷ memory backend."""
    how = get_file_how(scale)
    return Figure(
        key="F4",
        title="Redis backend: GetFile calls/s, Redis (standalone) ÷ memory backend",
        numerator=Measure(
            rate(rounds[REDIS]), "calls/s", f"GetFile, --backend redis, one server ({how})"
        ),
        denominator=Measure(
            rate(rounds[MEMORY]), "calls/s", f"GetFile, --backend memory: F1's runs ({how})"
        ),
        target=Target(">=", 0.6),
        notes=(_placement(), _cpu_note(rounds, "call", 1)),
    )


def secured_get_file(scale: ServiceScale, rounds: Rounds) -> Figure:
    """Figure S1: GetFile calls/s with mTLS, token auth and metrics ÷ plaintext with none."""
    how = get_file_how(scale)
    return Figure(
        key="S1",
        title="Security and metrics: GetFile calls/s, mTLS + token + metrics ÷ plaintext, none",
        numerator=Measure(
            rate(rounds[SECURED]),
            "calls/s",
            f"GetFile over mTLS, a bearer token checked per call, metrics on ({how})",
        ),
        denominator=Measure(
            rate(rounds[MEMORY]), "calls/s", f"GetFile, plaintext, no auth or metrics ({how})"
        ),
        target=Target(">=", 0.85),
        notes=(
            "the same server build and settings on both sides, each run a fresh server pinned "
            f"to CPU {procs.SERVER_CPU}, ghz on CPU {procs.LOAD_CPU}; ghz keeps its connections "
            "for the whole run, so the handshake is paid once per connection",
            f"CPU time per call (from /proc): plaintext "
            f"{median(rounds[MEMORY], lambda run: run.server_cpu_us):,.0f} µs, secured "
            f"{median(rounds[SECURED], lambda run: run.server_cpu_us):,.0f} µs",
        ),
    )


# -- BatchGetFiles: figures F2, 2 and R2 ---------------------------------------------


def _batch_load(scale: ServiceScale, protoset: Path) -> Load:
    paths = [f"src/pkg/module_{i}.py" for i in range(BATCH)]
    request: dict[str, object] = {"session_id": SESSION, "paths": paths}
    return Load(
        "BatchGetFiles", request, paths, scale.batch_calls, REDIS_CLIENTS, protoset, h2load=True
    )


BATCH_HOW = (
    f"BatchGetFiles, {BATCH} files of 1 KiB a call, h2load, {REDIS_CLIENTS} calls in flight "
    "on 1 connection"
)


def batch_rounds(scale: ServiceScale, *, protoset: Path, sides: Collection[str]) -> Rounds:
    """BatchGetFiles runs of ``sides`` (MEMORY, PLAIN, REDIS) and redis-benchmark GETs (YARDSTICK).

    F2, 2 and R2 share the memory backend's runs.
    """
    load = _batch_load(scale, protoset)
    with _redis_if(REDIS in sides) as redis:
        runs = _server_sides(load, redis, sides)
        if YARDSTICK in sides:
            runs[YARDSTICK] = lambda: _redis_gets(scale)
        return alternate_many(scale.rounds, runs)


def batch_vs_redis(rounds: Rounds) -> Figure:
    """Figure 2: BatchGetFiles files/s (100 files of 1 KiB a call) ÷ redis-benchmark GETs/s."""
    return Figure(
        key="2",
        title="Batch throughput: BatchGetFiles files/s ÷ redis-benchmark GET requests/s",
        numerator=Measure(BATCH * rate(rounds[MEMORY]), "files/s", BATCH_HOW),
        denominator=Measure(
            rate(rounds[YARDSTICK]),
            "requests/s",
            f"redis-benchmark GET, 1 KiB values, "
            f"{REDIS_CLIENTS} clients, no pipelining, local redis-server",
        ),
        target=Target(">=", 1.0),
        notes=(
            "redis-server CPU time per GET (from /proc): "
            f"{median(rounds[YARDSTICK], lambda run: run.server_cpu_us):,.1f} µs",
        ),
    )


def redis_batch(rounds: Rounds) -> Figure:
    """Figure R2: BatchGetFiles files/s on the Redis backend ÷ on the memory backend."""
    return Figure(
        key="R2",
        title="Redis backend: BatchGetFiles files/s, Redis (standalone) ÷ memory backend",
        numerator=Measure(
            BATCH * rate(rounds[REDIS]), "files/s", f"--backend redis, one server ({BATCH_HOW})"
        ),
        denominator=Measure(
            BATCH * rate(rounds[MEMORY]), "files/s", "--backend memory: figure 2's runs"
        ),
        target=Target(">=", 0.5),
        notes=(_placement(), _cpu_note(rounds, "call", BATCH)),
    )


def _redis_gets(scale: ServiceScale) -> Rate:
    """redis-benchmark GETs/s against a fresh redis-server, and Redis's CPU per GET."""
    with procs.redis_server() as redis:
        before = procs.cpu_seconds(redis.pid)
        gets = procs.redis_benchmark_get(
            redis.port, value_bytes=1024, clients=REDIS_CLIENTS, requests=scale.redis_requests
        )
        used = procs.cpu_seconds(redis.pid) - before
    return Rate(gets, 1e6 * used / scale.redis_requests)


# -- what F4 and R2 add to their figure ---------------------------------------------


def _placement() -> str:
    return (
        f"one contextstore server and one redis-server (standalone, no persistence), both "
        f"pinned to CPU {procs.SERVER_CPU}: the serving side has one CPU on either backend; "
        f"the load generator on CPU {procs.LOAD_CPU}; medians of alternating rounds, a fresh "
        "server each run"
    )


def _cpu_note(rounds: Rounds, unit: str, files: int) -> str:
    """CPU time per call of each process (medians), the cost of a call on each backend."""
    memory = median(rounds[MEMORY], lambda run: run.server_cpu_us)
    server = median(rounds[REDIS], lambda run: run.server_cpu_us)
    redis = median(rounds[REDIS], lambda run: run.redis_cpu_us)
    each = f" ({files} files)" if files > 1 else ""
    return (
        f"CPU time per {unit}{each} (from /proc): memory backend, server {memory:,.0f} µs; "
        f"Redis backend, server {server:,.0f} µs + redis-server {redis:,.0f} µs"
    )
