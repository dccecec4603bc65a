"""The Python API of ``contextstore bench``: ``run(BenchConfig(...)) -> BenchReport``.

    from contextstore.bench.runner import BenchConfig, Workload, run

    peak = run(BenchConfig(target=addr, procs=2, concurrency=32, duration=5,
                           workload=Workload(mix={"get": 1.0})))
    paced = run(BenchConfig(target=addr, procs=2, rate=0.7 * peak.throughput, duration=5,
                            workload=Workload(mix={"get": 1.0})))
    print(paced.latency.p50, paced.latency.p99, paced.errors)

Closed loop (``concurrency`` calls in flight in total) unless ``rate`` or
``schedule`` is set (open loop; see ``contextstore.bench.schedule``). With
``sweep``, closed-loop steps at concurrency 1, 2, 4, ... ``concurrency``, each
for ``duration``, and the knee (``contextstore.bench.report``). Without a
``target``, a local ``contextstore serve`` is started for the run. A target
may list several servers (``10.0.0.1,10.0.0.2:7``, as the typed clients take
it): every channel takes turns over them, and each must take the workload.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from contextstore.bench.histo import Merged
from contextstore.bench.limits import OverLimit, check_limits
from contextstore.bench.localserver import local_server
from contextstore.bench.pool import WorkerPool, measured_seconds
from contextstore.bench.progress import MEASURING, OnProgress, Progress
from contextstore.bench.report import (
    BenchReport,
    Interval,
    SweepStep,
    WorkerUsage,
    find_knee,
    op_stats,
    stats_of,
    sweep_levels,
    timeline,
)
from contextstore.bench.schedule import Schedule, parse_schedule
from contextstore.bench.worker import Phase, WorkerSpec, WorkerStats
from contextstore.bench.workload import Workload
from contextstore.client import ContextStoreClient, ServerInfo, Tls
from contextstore.client.security import resolve_token
from contextstore.client.targets import channel_target, is_list, with_default_port

__all__ = ["BenchConfig", "BenchReport", "OverLimit", "Progress", "Workload", "run"]

START_DELAY = 0.2  # seconds between sending a phase and its start, so every worker is there


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """A run. ``connections`` are channels in total (at least one per process)."""

    target: str | None = None
    procs: int = 1
    connections: int = 1
    concurrency: int = 16
    rate: float | None = None
    schedule: str | None = None
    sweep: bool = False
    duration: float = 10.0
    warmup: float = 1.0
    interval: float = 1.0
    workload: Workload = field(default_factory=Workload)
    preload: bool = True
    timeout: float = 10.0
    plan_size: int = 1 << 16
    server_args: tuple[str, ...] = ()
    tls: Tls | None = None  # every channel's, as the typed clients take it
    token: str | None = None  # None: $CONTEXTSTORE_TOKEN, read once in this process

    def __post_init__(self) -> None:
        if self.procs < 1 or self.concurrency < 1 or self.connections < 1:
            raise ValueError("procs, connections and concurrency must be >= 1")
        if self.duration <= 0 or self.interval <= 0 or self.warmup < 0 or self.timeout <= 0:
            raise ValueError("duration, interval and timeout must be > 0, warmup >= 0")
        if self.rate is not None and self.schedule is not None:
            raise ValueError("give a rate or a schedule, not both")
        if self.sweep and self.open_loop:
            raise ValueError("a sweep is closed loop: drop rate and schedule")
        if self.target:  # a list gRPC cannot read: said now, before any process starts
            channel_target(with_default_port(self.target))
        self.parsed_schedule()  # fail now, not in the middle of a run
        resolve_token(self.token)  # a token gRPC cannot send, said now
        if self.tls is not None:  # and a missing or unreadable certificate file
            self.tls.channel_credentials()

    @property
    def open_loop(self) -> bool:
        return self.rate is not None or self.schedule is not None

    def parsed_schedule(self) -> Schedule | None:
        if self.rate is not None:
            return parse_schedule(f"const:{self.rate!r}", self.duration)
        return None if self.schedule is None else parse_schedule(self.schedule, self.duration)

    def to_dict(self) -> dict[str, Any]:
        """For the report: the token is a secret, so only whether one was sent."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["workload"] = dataclasses.asdict(self.workload)
        fields["tls"] = None if self.tls is None else _tls_dict(self.tls)
        fields["token"] = resolve_token(self.token) is not None
        return fields


def _tls_dict(tls: Tls) -> dict[str, Any]:
    return {
        name: value if value is None or isinstance(value, str) else str(value)
        for name in ("ca", "cert", "key", "server_name")
        for value in [getattr(tls, name)]
    }


def run(config: BenchConfig, *, on_progress: OnProgress | None = None) -> BenchReport:
    """Run the benchmark described by ``config`` and report on it.

    ``on_progress`` is called in this process for every phase of the run as it
    begins, a few times a second while it lasts, and as it ends (see
    ``contextstore.bench.progress``). Raises ``OverLimit`` (a ``ValueError``)
    before any load when the workload's payloads are over the server's limits,
    ``BenchError`` when a worker fails, e.g. when preloading is refused, and
    ``ServerStartError`` for a local server.
    """
    since = time.monotonic()
    # Read once here: workers are handed the value, whatever their environment.
    config = dataclasses.replace(config, token=resolve_token(config.token) or "")
    if on_progress is not None:
        on_progress(Progress("start", 0.0, 0.0, None))
    with ExitStack() as stack:
        target = (
            with_default_port(config.target)
            if config.target
            else stack.enter_context(local_server(config.server_args)).address
        )
        info = _checked_server_info(config, target)
        pool = stack.enter_context(_pool(config, target, info, since, on_progress))
        return _measure(config, target, info, pool, on_progress)


def _checked_server_info(config: BenchConfig, target: str) -> ServerInfo:
    """The first server's info, once every server of ``target`` takes the workload.

    Each address of a list is asked on its own: asked through the list, the
    answer would come from whichever server round_robin picked, and a server
    with smaller limits would pass or fail the check by chance.
    """
    addresses = target.split(",") if is_list(target) else [target]
    infos = [_server_info(address, config) for address in addresses]
    for address, info in zip(addresses, infos, strict=True):
        try:
            check_limits(config.workload, info.limits, preload=config.preload)
        except OverLimit as error:
            if len(addresses) == 1:
                raise
            raise OverLimit(f"{address}: {error}") from None
    return infos[0]


def _server_info(target: str, config: BenchConfig) -> ServerInfo:
    with ContextStoreClient(
        target, timeout=config.timeout, tls=config.tls, token=config.token
    ) as client:
        return client.server_info()


@contextmanager
def _pool(
    config: BenchConfig, target: str, info: ServerInfo, since: float,
    on_progress: OnProgress | None,
) -> Iterator[WorkerPool]:  # fmt: skip
    procs = config.procs
    specs = [
        WorkerSpec(
            index=i,
            workers=procs,
            target=target,
            connections=max(1, config.connections // procs + (i < config.connections % procs)),
            workload=config.workload,
            plan_size=config.plan_size,
            preload=config.preload,
            timeout=config.timeout,
            max_items=int(info.limits.max_batch_items),
            max_message_bytes=int(info.limits.max_message_bytes),
            tls=config.tls,
            token=config.token or "",
        )
        for i in range(procs)
    ]
    pool = WorkerPool(specs, multiprocessing.get_context("spawn"))
    try:
        pool.wait_ready(timeout=max(60.0, config.timeout * 6), since=since, on_progress=on_progress)
        yield pool
    finally:
        pool.close()


@dataclass(slots=True)
class _PhaseResult:
    concurrency: int
    merged: Merged
    workers: list[WorkerStats]
    seconds: float  # measured: see pool.measured_seconds
    origin_ns: int  # when measuring began, time.monotonic_ns


def _measure(
    config: BenchConfig, target: str, info: ServerInfo, pool: WorkerPool,
    on_progress: OnProgress | None,
) -> BenchReport:  # fmt: skip
    levels = sweep_levels(config.concurrency) if config.sweep else [config.concurrency]
    results = []
    for step, level in enumerate(levels):
        phase = Phase(
            origin_ns=time.monotonic_ns() + int((START_DELAY + config.warmup) * 1e9),
            warmup=config.warmup, duration=config.duration, interval=config.interval,
            concurrency=level, schedule=config.parsed_schedule(),
        )  # fmt: skip
        label = f"c={level} ({step + 1}/{len(levels)})" if config.sweep else MEASURING
        merged = Merged()
        workers = pool.run_phase(phase, merged, label=label, on_progress=on_progress)
        seconds = measured_seconds(phase, workers)
        results.append(_PhaseResult(level, merged, workers, seconds, phase.origin_ns))
    return _report(config, target, info, results)


def _report(
    config: BenchConfig, target: str, info: ServerInfo, results: list[_PhaseResult]
) -> BenchReport:
    seconds = sum(result.seconds for result in results)
    merged = Merged()
    rows: list[Interval] = []
    intervals = max(1, round(config.duration / config.interval))
    for n, result in enumerate(results):
        merged.absorb(result.merged)
        offset = n * config.duration
        rows += timeline(
            result.merged, interval=config.interval, intervals=intervals, offset=offset
        )
    steps = tuple(SweepStep(r.concurrency, stats_of(r.merged.total(), r.seconds)) for r in results)
    return BenchReport(
        config={**config.to_dict(), "open_loop": config.open_loop},
        target=target,
        seconds=seconds,
        total=stats_of(merged.total(), seconds),
        ops=op_stats(merged, seconds),
        timeline=tuple(rows),
        workers=_usage(results),
        steps=steps if config.sweep else (),
        knee=find_knee(steps) if config.sweep else None,
        extra={"server": {"version": info.version, "backend": info.backend,
                          "started_locally": config.target is None},
               # On the wall clock, to line the run up with another tool's records.
               "measured_from_unix_ns": _unix_ns(results[0].origin_ns)},
    )  # fmt: skip


def _unix_ns(monotonic_ns: int) -> int:
    return time.time_ns() - time.monotonic_ns() + monotonic_ns


def _usage(results: list[_PhaseResult]) -> tuple[WorkerUsage, ...]:
    usage: dict[int, WorkerUsage] = {}
    for stats in (w for r in results for w in r.workers):
        prior = usage.get(stats.index, WorkerUsage(stats.index, 0, 0.0, 0))
        usage[stats.index] = WorkerUsage(
            stats.index,
            prior.calls + stats.calls,
            prior.cpu_seconds + stats.cpu_seconds,
            max(prior.max_rss_bytes, stats.max_rss_bytes),
        )
    return tuple(usage[i] for i in sorted(usage))
