"""Report arithmetic: errors versus misses, the sweep's levels and its knee."""

from __future__ import annotations

import pytest

from contextstore.bench.histo import Tally
from contextstore.bench.report import Latency, Stats, SweepStep, find_knee, stats_of, sweep_levels


def _step(concurrency: int, throughput: float) -> SweepStep:
    return SweepStep(concurrency, Stats(0, 0, {}, throughput, Latency()))


def test_knee_is_the_smallest_concurrency_reaching_90_percent_of_peak() -> None:
    steps = [_step(1, 1000), _step(2, 1900), _step(4, 3000), _step(8, 3400), _step(16, 3500)]

    assert find_knee(steps).concurrency == 8  # 3000 < 3150 = 90% of 3500
    assert find_knee(steps, fraction=0.8).concurrency == 4


def test_knee_of_a_falling_curve_is_the_peak_side() -> None:
    steps = [_step(4, 800), _step(1, 500), _step(2, 1000)]

    assert find_knee(steps).concurrency == 2


def test_knee_needs_steps() -> None:
    with pytest.raises(ValueError):
        find_knee([])


@pytest.mark.parametrize(
    ("maximum", "levels"), [(1, [1]), (2, [1, 2]), (8, [1, 2, 4, 8]), (12, [1, 2, 4, 8, 12])]
)
def test_sweep_levels_double_up_to_the_maximum(maximum: int, levels: list[int]) -> None:
    assert sweep_levels(maximum) == levels


def test_not_found_is_a_miss_on_reads_and_an_error_elsewhere() -> None:
    tally = Tally(statuses={"OK": 6, "NOT_FOUND": 3, "RESOURCE_EXHAUSTED": 1})

    read = stats_of(tally, 2.0, op="get")
    write = stats_of(tally, 2.0, op="cache")

    assert (read.misses, read.errors, read.throughput) == (3, {"RESOURCE_EXHAUSTED": 1}, 4.5)
    assert (write.misses, write.failed) == (0, 4)
    assert write.errors == {"NOT_FOUND": 3, "RESOURCE_EXHAUSTED": 1}
