"""One load-generating process: grpc.aio channels driving pre-serialized requests.

Started with the "spawn" context (grpc does not survive fork). The runner sends
``Phase`` commands on the worker's queue (``None`` to stop); the worker answers
on the shared results queue with messages:

- ``("preload", index, done, total)`` as its preload goes (calls sent of calls to send);
- ``("ready", index)`` once connected and preloaded;
- ``("deltas", index, [Delta, ...])`` every interval and at the end of a phase;
- ``("done", index, WorkerStats)`` after a phase;
- ``("failed", index, text)`` when it cannot go on.

Calls go through ``channel.unary_unary(method)`` without serializers: requests
are bytes from the plan, responses stay bytes and are never parsed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

import grpc
import grpc.aio

from contextstore.bench.histo import Recorder
from contextstore.bench.prepared import Preload, build_plan
from contextstore.bench.schedule import Schedule, prepend_warmup
from contextstore.bench.workload import OPS, READS, SERVICE, Workload
from contextstore.client import security
from contextstore.client._calls import BALANCING
from contextstore.client.security import Tls
from contextstore.client.targets import channel_target

Stub = Callable[..., Any]  # grpc.aio.UnaryUnaryMultiCallable, bytes in, bytes out
PRELOAD_PARALLEL = 16  # preload calls in flight per worker
PRELOAD_BYTES = 64 << 20  # ... and at most this many request bytes (but always one call)


class PreloadError(Exception):
    """A preload call failed; the run cannot measure hits."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker process needs, pickled to it once."""

    index: int
    workers: int
    target: str
    connections: int
    workload: Workload
    plan_size: int
    preload: bool
    timeout: float
    max_items: int
    max_message_bytes: int
    tls: Tls | None = None
    token: str = ""  # resolved by the runner: "" sends none


@dataclass(frozen=True, slots=True)
class Phase:
    """One load phase, the same for every worker; each takes its share.

    Measurement starts at ``origin_ns`` (``time.monotonic_ns``, which every
    process of the machine shares) after ``warmup`` seconds of the same load.
    Closed loop when ``schedule`` is ``None``: ``concurrency`` calls in flight
    in total. Open loop otherwise, latency counted from intended send times.
    """

    origin_ns: int
    warmup: float
    duration: float
    interval: float
    concurrency: int
    schedule: Schedule | None

    @property
    def intervals(self) -> int:
        return max(1, round(self.duration / self.interval))

    @property
    def end_ns(self) -> int:
        return self.origin_ns + int(self.duration * 1e9)


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """What one worker spent on one phase: its calls, its CPU seconds (all threads),
    when its last measured call ended (``time.monotonic_ns``, 0 for none), and the
    peak resident memory of its process so far."""

    index: int
    calls: int
    cpu_seconds: float
    last_end_ns: int
    max_rss_bytes: int


def max_rss_bytes() -> int:
    """This process's peak resident set size (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def share(total: int, workers: int, index: int) -> int:
    """Worker ``index``'s part of ``total``, spread as evenly as integers allow."""
    return total // workers + (1 if index < total % workers else 0)


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # A benchmark must see UNAVAILABLE, not have it retried away.
        ("grpc.enable_retries", 0),
        # Without a local pool, channels with equal arguments share one TCP connection.
        ("grpc.use_local_subchannel_pool", 1),
        # A target listing several servers: each channel takes turns over them.
        ("grpc.service_config", json.dumps(BALANCING)),
    ]


def worker_main(spec: WorkerSpec, commands: Queue[Phase | None], results: Queue[Any]) -> None:
    """Process entry point."""
    try:
        asyncio.run(Worker(spec, results).serve(commands))
    except PreloadError as error:
        results.put(("failed", spec.index, str(error)))
    except BaseException:  # the runner must hear why, whatever it was
        results.put(("failed", spec.index, traceback.format_exc()))


async def _call(stub: Stub, request: bytes, timeout: float) -> str:
    try:
        await stub(request, timeout=timeout)
    except grpc.aio.AioRpcError as error:
        return str(error.code().name)
    return "OK"


class Worker:
    """The asyncio side of a worker process."""

    def __init__(self, spec: WorkerSpec, results: Queue[Any]) -> None:
        self.spec = spec
        self.results = results
        self.plan = build_plan(
            spec.workload, size=spec.plan_size, seed=spec.workload.seed + 7919 * (spec.index + 1)
        )
        self.channels: list[grpc.aio.Channel] = []
        self.stubs: list[dict[str, Stub]] = []

    async def serve(self, commands: Queue[Phase | None]) -> None:
        await self._connect()
        try:
            if self.spec.preload:
                await self._preload()
            self.results.put(("ready", self.spec.index))
            loop = asyncio.get_running_loop()
            while (phase := await loop.run_in_executor(None, commands.get)) is not None:
                await self._run(phase)
        finally:
            await asyncio.gather(*(channel.close() for channel in self.channels))

    async def _connect(self) -> None:
        options = channel_options(self.spec.max_message_bytes)
        target = self.spec.target
        plan = security.plan(
            target, channel_target(target), options, tls=self.spec.tls, token=self.spec.token
        )
        for _ in range(self.spec.connections):
            channel = security.aio_channel(plan)
            self.channels.append(channel)
            self.stubs.append({op: channel.unary_unary(SERVICE + m) for op, m in OPS.items()})
        connect = [channel.channel_ready() for channel in self.channels]
        await asyncio.wait_for(asyncio.gather(*connect), self.spec.timeout)

    async def _preload(self) -> None:
        spec = self.spec
        preload = Preload(
            spec.workload, self.plan.payloads, worker=spec.index, workers=spec.workers,
            max_items=spec.max_items, max_bytes=spec.max_message_bytes // 2,
        )  # fmt: skip
        done, total = 0, len(preload)
        self.results.put(("preload", spec.index, done, total))
        for chunk in in_bounded_chunks(iter(preload), count=PRELOAD_PARALLEL, size=PRELOAD_BYTES):
            await asyncio.gather(*(self._preload_one(op, body) for op, body in chunk))
            done += len(chunk)
            self.results.put(("preload", spec.index, done, total))

    async def _preload_one(self, op: str, request: bytes) -> None:
        stub: Stub = self.stubs[0][op]
        try:
            await stub(request, timeout=self.spec.timeout)
        except grpc.aio.AioRpcError as error:
            raise PreloadError(
                f"preload {OPS[op]} failed: {error.code().name}: {error.details()}"
            ) from None

    async def _run(self, phase: Phase) -> None:
        recorder = Recorder(
            origin_ns=phase.origin_ns, interval_ns=int(phase.interval * 1e9),
            intervals=phase.intervals,
        )  # fmt: skip
        cpu = time.process_time()
        shipping = asyncio.create_task(self._ship_every(recorder, phase))
        try:
            calls = await (self._closed(phase, recorder) if phase.schedule is None
                           else self._open(phase, phase.schedule, recorder))  # fmt: skip
        finally:
            shipping.cancel()
        self._ship(recorder)
        cpu = time.process_time() - cpu
        stats = WorkerStats(self.spec.index, calls, cpu, recorder.last_end_ns, max_rss_bytes())
        self.results.put(("done", self.spec.index, stats))

    def _ship(self, recorder: Recorder) -> None:
        deltas = recorder.drain()
        if deltas:
            self.results.put(("deltas", self.spec.index, deltas))

    async def _ship_every(self, recorder: Recorder, phase: Phase) -> None:
        interval_ns = int(phase.interval * 1e9)
        for k in itertools.count(1):
            # Just after each interval boundary, so the interval is complete when shipped.
            wake = phase.origin_ns + k * interval_ns + interval_ns // 20
            await asyncio.sleep(max(0, wake - time.monotonic_ns()) / 1e9)
            self._ship(recorder)

    # -- closed loop -----------------------------------------------------------

    async def _closed(self, phase: Phase, recorder: Recorder) -> int:
        mine = share(phase.concurrency, self.spec.workers, self.spec.index)
        plan = self.plan.cycle()
        start_ns = phase.origin_ns - int(phase.warmup * 1e9)
        await asyncio.sleep(max(0, start_ns - time.monotonic_ns()) / 1e9)
        loops = [
            self._closed_loop(self.stubs[i % len(self.stubs)], plan, phase, recorder)
            for i in range(mine)
        ]
        return sum(await asyncio.gather(*loops))

    async def _closed_loop(
        self, stubs: dict[str, Stub], plan: Iterator[tuple[str, bytes]], phase: Phase,
        recorder: Recorder,
    ) -> int:  # fmt: skip
        calls, timeout, origin, end = 0, self.spec.timeout, phase.origin_ns, phase.end_ns
        monotonic_ns = time.monotonic_ns
        while monotonic_ns() < end:
            op, request = next(plan)  # may join a payload: not part of the call's latency
            start = monotonic_ns()
            status = await _call(stubs[op], request, timeout)
            done = monotonic_ns()
            calls += 1
            if start >= origin:  # warmup calls are not measured
                answered = status == "OK" or (status == "NOT_FOUND" and op in READS)
                recorder.record(op, status, done - start, done, answered=answered)
        return calls

    # -- open loop -------------------------------------------------------------

    async def _open(self, phase: Phase, schedule: Schedule, recorder: Recorder) -> int:
        spec = self.spec
        times = prepend_warmup(schedule, phase.warmup).intended_times(
            first=spec.index, every=spec.workers
        )
        base = phase.origin_ns - int(phase.warmup * 1e9)
        plan = self.plan.cycle()
        pending: set[asyncio.Task[None]] = set()
        calls = 0
        for offset in times:
            intended = base + int(offset * 1e9)
            op, request = next(plan)  # before the wait: joining a payload must not delay it
            delay = intended - time.monotonic_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            stub = self.stubs[calls % len(self.stubs)][op]
            task = asyncio.create_task(
                self._open_call(stub, op, request, intended, phase, recorder)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
            calls += 1
        await asyncio.gather(*pending)
        return calls

    async def _open_call(
        self, stub: Stub, op: str, request: bytes, intended: int, phase: Phase, recorder: Recorder
    ) -> None:
        status = await _call(stub, request, self.spec.timeout)
        done = time.monotonic_ns()
        if intended >= phase.origin_ns:
            # From the intended send time: a stall delays every call meant to go during it.
            answered = status == "OK" or (status == "NOT_FOUND" and op in READS)
            recorder.record(op, status, done - intended, done, answered=answered)


def in_bounded_chunks(
    items: Iterator[tuple[str, bytes]], *, count: int, size: int
) -> Iterator[list[tuple[str, bytes]]]:
    """Consecutive lists of at most ``count`` items and ``size`` request bytes (at least one)."""
    chunk: list[tuple[str, bytes]] = []
    held = 0
    for item in items:
        if chunk and (len(chunk) >= count or held + len(item[1]) > size):
            yield chunk
            chunk, held = [], 0
        chunk.append(item)
        held += len(item[1])
    if chunk:
        yield chunk
