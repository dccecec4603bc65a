"""Latency histograms per interval and operation, recorded in workers and merged exactly.

A worker records each call into the histogram of (interval, operation) and
periodically ships what it has as *deltas*: encoded HdrHistograms plus status
counts. Deltas are additive, so the merge is the same whether a late call lands
in an interval already shipped or not, and merged counts equal the sum of every
worker's counts exactly (HdrHistogram adds bucket by bucket, no resampling).
Latencies are in microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 600_000_000  # 10 minutes: anything slower is clamped, and shows as the max
SIGNIFICANT_FIGURES = 3
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


@dataclass(frozen=True, slots=True)
class Delta:
    """Calls one worker finished in one interval for one operation since its last ship.

    ``histogram`` (encoded) holds the latency of calls that got an answer (OK,
    or a miss on a read); ``statuses`` counts every call by status code name.
    """

    interval: int
    op: str
    histogram: bytes
    statuses: Mapping[str, int]


@dataclass(slots=True)
class _Slot:
    histogram: HdrHistogram = field(default_factory=new_histogram)
    statuses: dict[str, int] = field(default_factory=dict)


class Recorder:
    """A worker's open slots, keyed by (interval, op); ``drain`` ships and forgets them."""

    def __init__(self, *, origin_ns: int, interval_ns: int, intervals: int) -> None:
        self.origin_ns = origin_ns
        self.interval_ns = interval_ns
        self.last = intervals - 1
        self.last_end_ns = 0  # when the latest call recorded ended: measured time's true end
        self._slots: dict[tuple[int, str], _Slot] = {}

    def record(self, op: str, status: str, latency_ns: int, end_ns: int, *, answered: bool) -> None:
        self.last_end_ns = max(self.last_end_ns, end_ns)
        # A call belongs to the interval it finished in; late ones count in the last.
        index = min(max((end_ns - self.origin_ns) // self.interval_ns, 0), self.last)
        slot = self._slots.get((index, op))
        if slot is None:
            slot = self._slots[(index, op)] = _Slot()
        slot.statuses[status] = slot.statuses.get(status, 0) + 1
        if answered:
            slot.histogram.record_value(min(max(latency_ns // 1000, LOWEST_US), HIGHEST_US))

    def drain(self) -> list[Delta]:
        slots, self._slots = self._slots, {}
        return [
            Delta(index, op, slot.histogram.encode(), slot.statuses)
            for (index, op), slot in slots.items()
        ]


@dataclass(slots=True)
class Tally:
    """A merged histogram with its status counts."""

    histogram: HdrHistogram = field(default_factory=new_histogram)
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, histogram: HdrHistogram, statuses: Mapping[str, int]) -> None:
        if histogram.get_total_count():
            self.histogram.add(histogram)
        for status, count in statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count

    def merge(self, other: Tally) -> None:
        self.add(other.histogram, other.statuses)

    @property
    def calls(self) -> int:
        return sum(self.statuses.values())


class Merged:
    """Every worker's deltas, merged per interval (all ops), per op, and per (interval, op)."""

    def __init__(self) -> None:
        self.by_interval: dict[int, Tally] = {}
        self.by_op: dict[str, Tally] = {}
        self.by_interval_op: dict[tuple[int, str], dict[str, int]] = {}

    def add(self, deltas: Iterable[Delta]) -> None:
        for delta in deltas:
            histogram = HdrHistogram.decode(delta.histogram)
            self.by_interval.setdefault(delta.interval, Tally()).add(histogram, delta.statuses)
            self.by_op.setdefault(delta.op, Tally()).add(histogram, delta.statuses)
            counts = self.by_interval_op.setdefault((delta.interval, delta.op), {})
            for status, count in delta.statuses.items():
                counts[status] = counts.get(status, 0) + count

    def absorb(self, other: Merged) -> None:
        """Add ``other``'s per-op totals (its intervals belong to another phase's timeline)."""
        for op, tally in other.by_op.items():
            self.by_op.setdefault(op, Tally()).merge(tally)

    def total(self) -> Tally:
        total = Tally()
        for tally in self.by_op.values():
            total.merge(tally)
        return total


def percentiles(histogram: HdrHistogram) -> dict[str, float]:
    """p50, p90, p99, p99.9, max and mean in microseconds (zeros when empty)."""
    if histogram.get_total_count() == 0:
        return {name: 0.0 for name in [*PERCENTILES, "max", "mean"]}
    values = {name: float(histogram.get_value_at_percentile(p)) for name, p in PERCENTILES.items()}
    # hdrh reports the max as the highest equivalent value of its bucket, which can sit
    # a hair above p99.9's value for the same bucket; keep the order the table promises.
    values["max"] = float(max(histogram.get_max_value(), values["p99.9"]))
    values["mean"] = float(histogram.get_mean_value())
    return values
