"""Targets and figures: one-sided bounds, and the two-sided bound of an agreement."""

from __future__ import annotations

import pytest

from benchmarks import report
from benchmarks.figures import Figure, Measure, Target, paired_ratio


@pytest.mark.parametrize(
    ("ratio", "met"),
    [(0.89, False), (0.9, True), (1.0, True), (1.1, True), (1.108, False), (3.0, False)],
)
def test_a_two_sided_target_is_met_only_between_its_bounds(ratio: float, met: bool) -> None:
    assert Target.within(0.9, 1.1).met_by(ratio) is met


def test_one_sided_targets_keep_their_meaning() -> None:
    assert Target(">=", 0.9).met_by(1.2) and not Target(">=", 0.9).met_by(0.8)
    assert Target("<=", 5).met_by(4.0) and not Target("<=", 5).met_by(6.0)


@pytest.mark.parametrize(
    ("op", "bound", "upper"),
    [("within", 1.1, 0.9), ("within", 0.9, None), (">=", 0.9, 1.1), ("==", 1.0, None)],
)
def test_malformed_targets_are_refused(op: str, bound: float, upper: float | None) -> None:
    with pytest.raises(ValueError):
        Target(op, bound, upper)


def test_the_report_shows_both_bounds_and_marks_a_miss_above() -> None:
    high = Figure("7", "t", Measure(1.2, "x", "a"), Measure(1, "x", "b"), Target.within(0.9, 1.1))

    text = report.markdown([high], command="test")

    assert "| 7 | t | 1.2 x (a) | 1.0 x (b) | 1.2 | `within 0.9 .. 1.1` | **missed** |" in text


def test_a_paired_figure_is_the_median_of_its_rounds_ratios() -> None:
    # Round 2 ran while the host was slow for one side: the medians of the sides
    # (5 / 10 = 0.5) keep that, the rounds' own ratios (0.9, 0.5, 0.95) outvote it.
    withs, withouts = [9.0, 5.0, 9.5], [10.0, 10.0, 10.0]
    figure = Figure(
        "X", "t", Measure(5.0, "u", "a"), Measure(10.0, "u", "b"), Target(">=", 0.9),
        paired=paired_ratio(withs, withouts),
    )  # fmt: skip
    assert figure.ratio == 0.9 and figure.met
    assert (
        Figure("X", "t", Measure(5.0, "u", "a"), Measure(10.0, "u", "b"), Target(">=", 0.9)).ratio
        == 0.5
    )
