"""The result of a run: frozen dataclasses, built from merged histograms, JSON-able.

Terms used throughout:

- a *call* is any finished RPC; its status is counted by gRPC code name;
- an *error* is a call that failed: any status but OK, except NOT_FOUND on a
  read (get, metadata, analysis_get), which is a *miss*, an ordinary outcome of
  a cache (e.g. after an invalidate or a clear in the mix);
- *throughput* is answered calls (OK or miss) per second of measured time:
  a phase's measured time runs from its origin to its end, or to the end of its
  last counted call when that came later (``seconds`` in the report);
- latencies are in microseconds, over answered calls.

The *knee* of a concurrency sweep is the smallest concurrency whose throughput
reaches at least 90% (``KNEE_FRACTION``) of the peak throughput of the sweep:
beyond it, more calls in flight mostly add queueing, i.e. latency.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contextstore.bench.histo import Merged, Tally, percentiles
from contextstore.bench.workload import READS

KNEE_FRACTION = 0.9


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles of a latency distribution, in microseconds."""

    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    max: float = 0.0
    mean: float = 0.0

    @classmethod
    def of(cls, tally: Tally) -> Latency:
        values = percentiles(tally.histogram)
        return cls(values["p50"], values["p90"], values["p99"], values["p99.9"],
                   values["max"], values["mean"])  # fmt: skip


@dataclass(frozen=True, slots=True)
class Stats:
    """Calls of one operation, one interval, one sweep step, or all of them."""

    calls: int
    misses: int
    errors: Mapping[str, int]
    throughput: float
    latency: Latency

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def _is_error(op: str | None, status: str) -> bool:
    if status == "OK":
        return False
    # Across operations (op None) a NOT_FOUND can only have come from a read.
    return not (status == "NOT_FOUND" and (op is None or op in READS))


def stats_of(tally: Tally, seconds: float, *, op: str | None = None) -> Stats:
    errors = {s: n for s, n in sorted(tally.statuses.items()) if _is_error(op, s)}
    misses = tally.statuses.get("NOT_FOUND", 0) if op is None or op in READS else 0
    answered = tally.calls - sum(errors.values())
    rate = answered / seconds if seconds > 0 else 0.0
    return Stats(tally.calls, misses, errors, rate, Latency.of(tally))


@dataclass(frozen=True, slots=True)
class Interval:
    """One interval of the timeline: ``start`` seconds after measurement began."""

    start: float
    stats: Stats
    calls_by_op: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class SweepStep:
    """One closed-loop step of a concurrency sweep."""

    concurrency: int
    stats: Stats


@dataclass(frozen=True, slots=True)
class WorkerUsage:
    """CPU one worker process spent, the calls it drove and its peak resident memory
    (preload and plan included), over the whole run."""

    index: int
    calls: int
    cpu_seconds: float
    max_rss_bytes: int

    @property
    def calls_per_cpu_second(self) -> float:
        """Calls/s this worker could drive at 100% of one CPU."""
        return self.calls / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class BenchReport:
    """Everything a run measured. ``to_dict()`` is what ``--json`` writes."""

    config: Mapping[str, Any]
    target: str
    seconds: float
    total: Stats
    ops: Mapping[str, Stats]
    timeline: tuple[Interval, ...]
    workers: tuple[WorkerUsage, ...]
    steps: tuple[SweepStep, ...] = ()
    knee: SweepStep | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Answered calls per second (OK or miss)."""
        return self.total.throughput

    @property
    def errors(self) -> Mapping[str, int]:
        """Failed calls by gRPC status code name."""
        return self.total.errors

    @property
    def latency(self) -> Latency:
        return self.total.latency

    @property
    def failed(self) -> int:
        return self.total.failed

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["throughput"] = self.throughput
        data["failed"] = self.failed
        data["workers"] = [
            {**dataclasses.asdict(w), "calls_per_cpu_second": w.calls_per_cpu_second}
            for w in self.workers
        ]
        return data


def find_knee(steps: Sequence[SweepStep], *, fraction: float = KNEE_FRACTION) -> SweepStep:
    """The smallest-concurrency step reaching ``fraction`` of the peak throughput."""
    if not steps:
        raise ValueError("no sweep steps")
    peak = max(step.stats.throughput for step in steps)
    ordered = sorted(steps, key=lambda step: step.concurrency)
    return next(step for step in ordered if step.stats.throughput >= fraction * peak)


def sweep_levels(maximum: int) -> list[int]:
    """1, 2, 4, ... up to ``maximum``, which is always the last level."""
    levels = [1]
    while levels[-1] * 2 < maximum:
        levels.append(levels[-1] * 2)
    return [*levels, maximum] if maximum > 1 else levels


def timeline(
    merged: Merged, *, interval: float, intervals: int, offset: float = 0.0
) -> list[Interval]:
    rows = []
    for index in range(intervals):
        tally = merged.by_interval.get(index, Tally())
        by_op = {
            op: sum(counts.values())
            for (i, op), counts in sorted(merged.by_interval_op.items())
            if i == index
        }
        rows.append(Interval(offset + index * interval, stats_of(tally, interval), by_op))
    return rows


def op_stats(merged: Merged, seconds: float) -> dict[str, Stats]:
    return {op: stats_of(t, seconds, op=op) for op, t in sorted(merged.by_op.items())}
