"""Live progress of a run, phase by phase, for a display (``render.LiveProgress``).

Phases, in order: ``start`` (a local server, the worker processes and their
connections), ``preload`` (unless --no-preload), then for each load phase a
``warm-up`` (when there is one) and the measured phase (``measuring``, or a
sweep step's ``c=N (i/k)``). Each is reported when it begins, at every tick of
the runner while it lasts, and once finished. Each runs on its own clock: a
measured phase of 5 s ends at 0:00:05, when it ended, not when the display
first heard of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from contextstore.bench.worker import Phase


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one phase stands.

    ``elapsed`` is seconds since the phase began; ``completed`` of ``total``
    how far along it is, in ``unit``: seconds for a timed phase, calls for the
    preload (``total`` is None until known). ``calls``, ``failed`` and ``rate``
    count calls so far: measured ones in a measured phase, sent ones in the preload.
    """

    label: str
    elapsed: float
    completed: float
    total: float | None
    unit: str = "s"
    calls: int = 0
    failed: int = 0
    rate: float = 0.0
    finished: bool = False


OnProgress = Callable[[Progress], None]
MEASURING = "measuring"  # the measured phase of a run that is not a sweep


class StartWatch:
    """The ``start`` and ``preload`` phases, as the workers report their preload."""

    def __init__(self, on_progress: OnProgress | None, *, since: float, workers: int) -> None:
        self.on_progress = on_progress
        self.since = since  # time.monotonic() when the run began
        self.workers = workers
        self.preload_since: float | None = None
        self.preloads: dict[int, tuple[int, int]] = {}  # worker -> (done, total)
        self.tick()

    def preloaded(self, worker: int, done: int, total: int) -> None:
        if self.preload_since is None:
            self._start(finished=True)
            self.preload_since = time.monotonic()
        self.preloads[worker] = (done, total)
        self.tick()

    def tick(self, *, finished: bool = False) -> None:
        if self.preload_since is None:
            self._start(finished=finished)
        else:
            self._preload(finished=finished)

    def finish(self) -> None:
        self.tick(finished=True)

    def _start(self, *, finished: bool) -> None:
        elapsed = time.monotonic() - self.since
        self._send(Progress("start", elapsed, elapsed, None, finished=finished))

    def _preload(self, *, finished: bool) -> None:
        assert self.preload_since is not None
        elapsed = time.monotonic() - self.preload_since
        done = sum(d for d, _ in self.preloads.values())
        # The total is known once every worker has said what its share is.
        known = len(self.preloads) == self.workers
        total = sum(t for _, t in self.preloads.values()) if known else None
        rate = done / elapsed if elapsed > 0 else 0.0
        self._send(Progress("preload", elapsed, done, total, unit="calls", calls=done, rate=rate,
                            finished=finished))  # fmt: skip

    def _send(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)


class PhaseWatch:
    """One load phase: its ``warm-up``, then its measured phase, each on its own clock."""

    def __init__(self, on_progress: OnProgress | None, phase: Phase, label: str) -> None:
        self.on_progress = on_progress
        self.phase = phase
        self.label = label
        # A sweep warms up before each step: one row each.
        self.warmup_label = "warm-up" if label == MEASURING else f"{label} warm-up"
        self.warming = phase.warmup > 0
        self.calls = self.failed = 0
        self.rate = 0.0
        self.tick()

    def measured(self, calls: int, failed: int) -> None:
        """Calls counted so far in the measured phase (the workers ship them each interval)."""
        self.calls, self.failed = calls, failed
        elapsed = self._elapsed()
        self.rate = (calls - failed) / elapsed if elapsed > 0 else 0.0
        self.tick()

    def tick(self) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic_ns()
        if self.warming:
            if now < self.phase.origin_ns:
                began = self.phase.origin_ns - int(self.phase.warmup * 1e9)
                elapsed = max(now - began, 0) / 1e9
                self.on_progress(Progress(self.warmup_label, elapsed, elapsed, self.phase.warmup))
                return
            warmup = self.phase.warmup
            self.on_progress(Progress(self.warmup_label, warmup, warmup, warmup, finished=True))
            self.warming = False
        self._measuring(self._elapsed(), finished=False)

    def finish(self, seconds: float) -> None:
        """The phase is over; ``seconds`` is its measured time (its duration and the tail)."""
        if self.on_progress is None:
            return
        self.tick()  # a warm-up still open closes first
        self._measuring(seconds, finished=True)

    def _elapsed(self) -> float:
        since_origin = (time.monotonic_ns() - self.phase.origin_ns) / 1e9
        return min(max(since_origin, 0.0), self.phase.duration)

    def _measuring(self, elapsed: float, *, finished: bool) -> None:
        assert self.on_progress is not None
        duration = self.phase.duration
        self.on_progress(Progress(
            self.label, elapsed, min(elapsed, duration), duration, calls=self.calls,
            failed=self.failed, rate=self.rate, finished=finished,
        ))  # fmt: skip
