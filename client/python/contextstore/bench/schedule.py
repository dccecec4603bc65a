"""Open-loop rate schedules: when the n-th call of a run is meant to be sent.

A schedule is a piecewise-linear rate r(t) over the measured duration. The
number of calls due by time t is N(t) = integral of r; the n-th call (from 0)
is intended at N⁻¹(n), solved exactly per segment, so a ramp or a step sends
exactly the calls its rate promises, and latency can be measured from the
*intended* send time (no coordinated omission: a stalled server cannot slow
the sender down and hide its own stall).

Syntax (``--schedule``; ``--rate R`` is ``const:R``), rates in calls/s over
``--duration`` seconds:

- ``const:R``            R calls/s throughout.
- ``ramp:FROM:TO``       linear from FROM to TO calls/s.
- ``step:R1,R2,...,Rk``  k equal steps, R1 calls/s for duration/k, then R2...
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """Rate going linearly from ``r0`` to ``r1`` calls/s between ``t0`` and ``t1`` seconds."""

    t0: float
    t1: float
    r0: float
    r1: float

    @property
    def calls(self) -> float:
        return (self.r0 + self.r1) / 2 * (self.t1 - self.t0)

    @property
    def slope(self) -> float:
        return (self.r1 - self.r0) / (self.t1 - self.t0)

    def offset_of(self, calls: float) -> float:
        """Seconds after ``t0`` when ``calls`` calls of this segment are due.

        Solves r0·τ + slope·τ²/2 = calls in the form that is stable when the
        slope is zero or tiny (the textbook root divides by the slope).
        """
        if calls <= 0:
            return 0.0
        root = math.sqrt(max(self.r0 * self.r0 + 2 * self.slope * calls, 0.0))
        return 2 * calls / (self.r0 + root)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A piecewise-linear rate over ``[0, duration]``; see the module docstring."""

    segments: tuple[Segment, ...]
    spec: str

    @property
    def duration(self) -> float:
        return self.segments[-1].t1

    @property
    def total_calls(self) -> int:
        return math.floor(sum(s.calls for s in self.segments) + 1e-9)

    def rate_at(self, t: float) -> float:
        """The intended rate at ``t`` seconds, in calls/s."""
        for s in self.segments:
            if s.t0 <= t < s.t1:
                return s.r0 + s.slope * (t - s.t0)
        return 0.0

    def intended_times(self, *, first: int = 0, every: int = 1) -> Iterator[float]:
        """Intended send times (seconds from the start) of calls first, first+every, ...

        Each of ``every`` workers takes its own residue, so together they send
        the schedule's calls exactly once, interleaved.
        """
        done = 0.0  # calls due before the current segment
        n = first
        for s in self.segments:
            while n < done + s.calls - 1e-9:
                yield s.t0 + s.offset_of(n - done)
                n += every
            done += s.calls


def prepend_warmup(schedule: Schedule, warmup: float) -> Schedule:
    """The schedule with ``warmup`` seconds at its initial rate before it, all shifted."""
    first = schedule.segments[0].r0
    moved = tuple(Segment(s.t0 + warmup, s.t1 + warmup, s.r0, s.r1) for s in schedule.segments)
    head = (Segment(0.0, warmup, first, first),) if warmup > 0 else ()
    return Schedule(head + moved, schedule.spec)


def _rate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a rate is a finite number >= 0, got {text!r}")
    return value


def parse_schedule(spec: str, duration: float) -> Schedule:
    """Parse ``const:R``, ``ramp:FROM:TO`` or ``step:R1,R2,...`` over ``duration`` seconds."""
    if duration <= 0:
        raise ValueError("the duration must be > 0")
    kind, _, rest = spec.partition(":")
    segments: tuple[Segment, ...]
    if kind == "const":
        rate = _rate(rest)
        segments = (Segment(0.0, duration, rate, rate),)
    elif kind == "ramp":
        start, sep, end = rest.partition(":")
        if not sep:
            raise ValueError(f"ramp is ramp:FROM:TO, got {spec!r}")
        segments = (Segment(0.0, duration, _rate(start), _rate(end)),)
    elif kind == "step":
        segments = _steps([_rate(r) for r in rest.split(",") if r.strip()], duration, spec)
    else:
        raise ValueError(f"a schedule is const:R, ramp:FROM:TO or step:R1,R2,..., got {spec!r}")
    if all(s.r0 == 0 and s.r1 == 0 for s in segments):
        raise ValueError(f"schedule {spec!r} sends no calls")
    return Schedule(segments, spec)


def _steps(rates: list[float], duration: float, spec: str) -> tuple[Segment, ...]:
    if not rates:
        raise ValueError(f"step needs at least one rate, got {spec!r}")
    width = duration / len(rates)
    return tuple(Segment(i * width, (i + 1) * width, r, r) for i, r in enumerate(rates))
