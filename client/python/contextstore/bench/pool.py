"""The worker processes of a run, seen from the runner: start, phase, collect, stop.

Every wait is bounded and checks that the workers are still alive, so a worker
that dies (or never starts) fails the run with its reason instead of hanging it.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from typing import Any

from contextstore.bench.histo import Merged
from contextstore.bench.progress import OnProgress, PhaseWatch, StartWatch
from contextstore.bench.worker import Phase, WorkerSpec, WorkerStats, worker_main

POLL = 0.2  # seconds between liveness checks (and progress ticks) while waiting on workers
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """A worker failed or the workers could not be started."""


def measured_seconds(phase: Phase, workers: list[WorkerStats]) -> float:
    """The time a phase's counted calls were counted in: from its origin to its end, or
    to the end of its last counted call when that came later (calls started before
    the end count, wherever they end)."""
    last_end_ns = max((w.last_end_ns for w in workers), default=0)
    return max(phase.duration, (last_end_ns - phase.origin_ns) / 1e9)


class WorkerPool:
    """``len(specs)`` spawned worker processes sharing one results queue."""

    def __init__(self, specs: list[WorkerSpec], context: SpawnContext) -> None:
        self.call_timeout = max(spec.timeout for spec in specs)
        self.results: Queue[Any] = context.Queue()
        self.commands: list[Queue[Phase | None]] = [context.Queue() for _ in specs]
        self.processes: list[SpawnProcess] = [
            context.Process(
                target=worker_main,
                args=(spec, commands, self.results),
                daemon=True,
                name=f"contextstore-bench-{spec.index}",
            )
            for spec, commands in zip(specs, self.commands, strict=True)
        ]
        for process in self.processes:
            process.start()

    def _next(self, deadline: float, tick: Callable[[], None]) -> tuple[Any, ...]:
        while True:
            try:
                message: tuple[Any, ...] = self.results.get(timeout=POLL)
            except queue.Empty:
                self._check_alive(deadline)
                tick()
                continue
            if message[0] == "failed":
                raise BenchError(f"worker {message[1]} failed: {message[2]}")
            return message

    def _check_alive(self, deadline: float) -> None:
        dead = [p for p in self.processes if p.exitcode is not None]
        if dead:
            codes = ", ".join(f"{p.name} exited with {p.exitcode}" for p in dead)
            raise BenchError(f"worker process gone: {codes}")
        if time.monotonic() > deadline:
            raise BenchError("timed out waiting for the workers")

    def wait_ready(
        self, *, timeout: float, since: float, on_progress: OnProgress | None = None
    ) -> None:
        """Wait until every worker is connected and preloaded, showing both phases.

        ``since`` (``time.monotonic()``) is when the run began: the start phase's origin.
        """
        deadline = time.monotonic() + timeout
        watch = StartWatch(on_progress, since=since, workers=len(self.processes))
        ready: set[int] = set()
        while len(ready) < len(self.processes):
            message = self._next(deadline, watch.tick)
            if message[0] == "preload":
                watch.preloaded(*message[1:])
            elif message[0] == "ready":
                ready.add(message[1])
        watch.finish()

    def run_phase(
        self, phase: Phase, merged: Merged, *, label: str, on_progress: OnProgress | None
    ) -> list[WorkerStats]:
        """Run ``phase`` on every worker, merging their deltas into ``merged``."""
        for commands in self.commands:
            commands.put(phase)
        # Calls may run up to their deadline past the end; leave room for that and the start.
        deadline = time.monotonic() + (phase.origin_ns - time.monotonic_ns()) / 1e9
        deadline += phase.duration + self.call_timeout + 30.0
        watch = PhaseWatch(on_progress, phase, label)
        done: list[WorkerStats] = []
        while len(done) < len(self.processes):
            message = self._next(deadline, watch.tick)
            if message[0] == "deltas":
                merged.add(message[2])
                if on_progress is not None:
                    total = merged.total()
                    watch.measured(total.calls, total.calls - _answered(merged))
            elif message[0] == "done":
                done.append(message[2])
        watch.finish(measured_seconds(phase, done))
        return sorted(done, key=lambda stats: stats.index)

    def close(self) -> None:
        for commands, process in zip(self.commands, self.processes, strict=True):
            if process.is_alive():
                commands.put(None)
        for process in self.processes:
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                process.terminate()  # only our own worker, by its handle
                process.join(STOP_TIMEOUT)


def _answered(merged: Merged) -> int:
    return sum(int(tally.histogram.get_total_count()) for tally in merged.by_op.values())
