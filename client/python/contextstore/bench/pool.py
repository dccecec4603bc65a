"""The worker processes of a run, seen from the runner: start, phase, collect, stop.

Every wait is bounded and checks that the workers are still alive, so a worker
that dies (or never starts) fails the run with its reason instead of hanging it.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from typing import Any

from contextstore.bench.histo import Merged
from contextstore.bench.worker import Phase, WorkerSpec, WorkerStats, worker_main

POLL = 0.2  # seconds between liveness checks while waiting on workers
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """A worker failed or the workers could not be started."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a phase stands, for a live display: counts over measured time so far."""

    label: str
    elapsed: float
    duration: float
    calls: int
    failed: int

    @property
    def rate(self) -> float:
        return self.calls / self.elapsed if self.elapsed > 0 else 0.0


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

    def _next(self, deadline: float) -> tuple[Any, ...]:
        while True:
            try:
                message: tuple[Any, ...] = self.results.get(timeout=POLL)
            except queue.Empty:
                self._check_alive(deadline)
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

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ready: set[int] = set()
        while len(ready) < len(self.processes):
            message = self._next(deadline)
            if message[0] == "ready":
                ready.add(message[1])

    def run_phase(
        self, phase: Phase, merged: Merged, *, label: str,
        on_progress: Callable[[Progress], None] | None,
    ) -> list[WorkerStats]:  # fmt: skip
        """Run ``phase`` on every worker, merging their deltas into ``merged``."""
        for commands in self.commands:
            commands.put(phase)
        # Calls may run up to their deadline past the end; leave room for that and the start.
        deadline = time.monotonic() + (phase.origin_ns - time.monotonic_ns()) / 1e9
        deadline += phase.duration + self.call_timeout + 30.0
        done: list[WorkerStats] = []
        while len(done) < len(self.processes):
            message = self._next(deadline)
            if message[0] == "deltas":
                merged.add(message[2])
                self._progress(phase, merged, label, on_progress)
            elif message[0] == "done":
                done.append(message[2])
        return sorted(done, key=lambda stats: stats.index)

    @staticmethod
    def _progress(
        phase: Phase, merged: Merged, label: str, on_progress: Callable[[Progress], None] | None
    ) -> None:
        if on_progress is None:
            return
        elapsed = min(max((time.monotonic_ns() - phase.origin_ns) / 1e9, 0.0), phase.duration)
        total = merged.total()
        failed = total.calls - _answered(merged)
        on_progress(Progress(label, elapsed, phase.duration, total.calls, failed))

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
