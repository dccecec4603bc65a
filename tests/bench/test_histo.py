"""Per-interval histograms: recorded in workers, merged exactly in the runner."""

from __future__ import annotations

import random

from hdrh.histogram import HdrHistogram

from contextstore.bench.histo import Merged, Recorder, new_histogram, percentiles

SECOND = 1_000_000_000


def _recorder() -> Recorder:
    return Recorder(origin_ns=0, interval_ns=SECOND, intervals=3)


def test_merging_workers_is_exact() -> None:
    rng = random.Random(7)
    workers = [_recorder() for _ in range(4)]
    everything = new_histogram()
    merged = Merged()
    for worker in workers:
        for _ in range(5_000):
            latency_us = int(rng.lognormvariate(7, 1.5)) + 1
            end = rng.randrange(3 * SECOND)
            op = rng.choice(["get", "cache"])
            worker.record(op, "OK", latency_us * 1000, end, answered=True)
            everything.record_value(latency_us)
        # Ship twice: an interval shipped early must add up, not be replaced.
        merged.add(worker.drain())
        merged.add(worker.drain())

    total = merged.total()
    assert total.calls == total.histogram.get_total_count() == 20_000
    assert sum(t.calls for t in merged.by_interval.values()) == 20_000
    assert sum(t.calls for t in merged.by_op.values()) == 20_000
    assert percentiles(total.histogram) == percentiles(everything)
    assert total.histogram.get_max_value() == everything.get_max_value()


def test_calls_land_in_the_interval_they_finished_in() -> None:
    recorder = _recorder()
    recorder.record("get", "OK", 1000, SECOND // 2, answered=True)
    recorder.record("get", "OK", 1000, SECOND + 1, answered=True)
    recorder.record("get", "UNAVAILABLE", 1000, 10 * SECOND, answered=False)  # late: last one

    merged = Merged()
    merged.add(recorder.drain())

    assert {i: t.calls for i, t in merged.by_interval.items()} == {0: 1, 1: 1, 2: 1}
    assert merged.by_interval[2].statuses == {"UNAVAILABLE": 1}
    assert merged.by_interval[2].histogram.get_total_count() == 0  # failures carry no latency


def test_deltas_survive_encoding() -> None:
    recorder = _recorder()
    for value in (5, 50, 500, 5_000_000):
        recorder.record("get", "OK", value * 1000, 0, answered=True)

    (delta,) = recorder.drain()

    decoded = HdrHistogram.decode(delta.histogram)
    assert decoded.get_total_count() == 4
    assert decoded.get_max_value() >= 5_000_000


def test_percentiles_are_ordered() -> None:
    histogram = new_histogram()
    for value in range(1, 10_001):
        histogram.record_value(value)

    p = percentiles(histogram)

    assert p["p50"] <= p["p90"] <= p["p99"] <= p["p99.9"] <= p["max"]
    assert abs(p["p50"] - 5000) <= 5
