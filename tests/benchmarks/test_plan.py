"""The plan: which figures run, and which sides their shared measurements get."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from benchmarks import plan, service
from benchmarks.figures import Figure
from benchmarks.plan import Plan

RATE = service.Rate(per_second=100.0, server_cpu_us=10.0, redis_cpu_us=5.0, p50_us=200.0)


@pytest.mark.parametrize(
    ("only", "runs"),
    [
        (None, {"F1", "F2", "F3", "F4", "4a", "4b", "R4"}),
        (["4"], {"4a", "4b"}),
        (["F4", "2"], {"F4", "2"}),
    ],
)
def test_only_chooses_figures_and_4_means_both_halves(
    only: list[str] | None, runs: set[str]
) -> None:
    chosen = Plan(quick=True, protoset=Path("p"), only=only)
    keys = [key for key, _ in plan.plan(chosen)]

    assert {key for key in keys if chosen.runs(key)} >= runs
    if only is not None:
        assert {key for key in keys if chosen.runs(key)} == runs


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, frozenset[str]]]:
    """Fake the measurements; record which were made, with which sides."""
    made: list[tuple[str, frozenset[str]]] = []

    def rounds(name: str) -> Callable[..., service.Rounds]:
        def measure(
            scale: service.ServiceScale, *, protoset: Path, sides: Collection[str]
        ) -> service.Rounds:
            made.append((name, frozenset(sides)))
            return {side: [RATE] for side in sides}

        return measure

    def sequential(scale: service.ServiceScale, *, protoset: Path) -> service.Rounds:
        made.append(("sequential", frozenset({service.MEMORY, service.FLOOR})))
        return {side: [RATE] for side in (service.MEMORY, service.FLOOR)}

    monkeypatch.setattr(service, "get_file_rounds", rounds("get_file"))
    monkeypatch.setattr(service, "batch_rounds", rounds("batch"))
    monkeypatch.setattr(service, "sequential_rounds", sequential)
    return made


def _run(chosen: Plan) -> list[Figure]:
    figures: list[Figure] = []
    for key, step in plan.plan(chosen):
        if chosen.runs(key):
            figures.append(step(figures))
    return figures


def test_the_headline_comes_first_then_the_issues_figures_then_the_rest() -> None:
    keys = [key for key, _ in plan.plan(Plan(quick=True, protoset=Path("p")))]

    assert keys == [
        "F1", "F2", "F3", "F4", "2", "3", "4a", "4b", "5a", "5b", "6", "7", "R2", "R3", "R4",
        "S1", "W1", "W2", "W3", "W4",
    ]  # fmt: skip


def test_figures_sharing_a_side_share_one_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _recorded(monkeypatch)

    figures = _run(Plan(quick=True, protoset=Path("p"), only=["F1", "F2", "F4", "2", "4b", "R2"]))

    assert [f.key for f in figures] == ["F1", "F2", "F4", "2", "4b", "R2"]
    get_file = {service.MEMORY, service.FLOOR, service.H2_MEMORY, service.H2_FLOOR, service.REDIS}
    batch = {service.MEMORY, service.PLAIN, service.YARDSTICK, service.REDIS}
    assert made == [("get_file", frozenset(get_file)), ("batch", frozenset(batch))]


def test_a_redis_figure_alone_measures_only_its_two_sides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _recorded(monkeypatch)

    [figure] = _run(Plan(quick=True, protoset=Path("p"), only=["F4"]))

    assert figure.key == "F4" and figure.ratio == 1.0
    assert made == [("get_file", frozenset({service.MEMORY, service.REDIS}))]


def test_the_secured_figure_shares_f1s_getfile_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _recorded(monkeypatch)

    figures = _run(Plan(quick=True, protoset=Path("p"), only=["F1", "S1"]))

    assert [f.key for f in figures] == ["F1", "S1"]
    sides = {service.MEMORY, service.FLOOR, service.H2_MEMORY, service.H2_FLOOR, service.SECURED}
    assert made == [("get_file", frozenset(sides))]


def test_4b_divides_by_the_floors_ghz_runs_measuring_only_the_floor_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _recorded(monkeypatch)

    [figure] = _run(Plan(quick=True, protoset=Path("p"), only=["4b"]))

    assert made == [("get_file", frozenset({service.FLOOR}))]
    assert figure.denominator.value == RATE.per_second
    assert "floor" in figure.denominator.what


def test_f3_measures_its_own_sequential_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _recorded(monkeypatch)

    [figure] = _run(Plan(quick=True, protoset=Path("p"), only=["F3"]))

    assert figure.key == "F3"
    assert made == [("sequential", frozenset({service.MEMORY, service.FLOOR}))]
