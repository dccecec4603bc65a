"""Figure 7 (bench against ghz) at a tiny scale: both tools run and the figure is sane.

Whether the two agree is the figure's value, read from ``make bench``; a timed
assertion here would test the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ghz_details import START_NS, ghz_detail

from benchmarks import agreement, procs


def test_bench_vs_ghz_measures_both_tools(tmp_path: Path) -> None:
    scale = agreement.AgreementScale(rounds=1, seconds=0.5, concurrency=8)

    figure = agreement.bench_vs_ghz(scale, protoset=procs.protoset(tmp_path / "cs.protoset"))

    assert figure.key == "7"
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert "bench" in figure.numerator.what and "ghz" in figure.denominator.what
    assert (figure.target.bound, figure.target.upper) == (0.9, 1.1)
    assert figure.met == (0.9 <= figure.ratio <= 1.1)


def ghz_ended(ns: int) -> dict[str, Any]:
    return ghz_detail(ns, 0)


def test_ghz_is_counted_over_benchs_window_only() -> None:
    start = START_NS
    # One call every 10 ms for 3 s; bench measured 1 s of it, from second 1.
    details = [ghz_ended(start + i * 10_000_000) for i in range(300)]

    rate = agreement.ghz_rate_within(details, start + 1_000_000_000, 1.0)

    assert rate == 100.0


def test_a_ghz_run_that_does_not_cover_benchs_window_is_refused() -> None:
    start = START_NS
    details = [ghz_ended(start + i * 10_000_000) for i in range(100)]  # seconds 0..1

    with pytest.raises(RuntimeError, match="did not cover"):
        agreement.ghz_rate_within(details, start + 500_000_000, 1.0)


@pytest.mark.parametrize(
    ("counted", "served", "honest"),
    [
        ((1000, 990), (1000, 1000), True),  # ghz cancelled 10 served calls at its end
        ((1000, 990), (1000, 1030), False),  # ... more than its 16 in flight: miscounted
        ((1000, 1000), (1001, 1000), False),  # bench lost a call
        ((1001, 1000), (1000, 1000), False),  # bench counted a call never served
    ],
)
def test_each_tool_must_count_what_the_server_served_it(
    counted: tuple[int, int], served: tuple[int, int], honest: bool
) -> None:
    side = agreement.Side(1.0, 1.0, counted=counted, served=served)

    if honest:
        agreement.check_counts(side, in_flight=16)
    else:
        with pytest.raises(RuntimeError, match="the server served"):
            agreement.check_counts(side, in_flight=16)
