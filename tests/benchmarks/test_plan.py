"""The plan: which figures run, and which sides their shared measurements get."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from benchmarks import plan, service
from benchmarks.figures import Figure
from benchmarks.plan import Plan

RATE = service.Rate(per_second=100.0, server_cpu_us=10.0, redis_cpu_us=5.0)


@pytest.mark.parametrize(
    ("only", "runs"),
    [
        (None, {"1", "4a", "4b", "R1", "R4"}),
        (["4"], {"4a", "4b"}),
        (["R1", "2"], {"R1", "2"}),
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

    monkeypatch.setattr(service, "get_file_rounds", rounds("get_file"))
    monkeypatch.setattr(service, "batch_rounds", rounds("batch"))
    return made


def _run(chosen: Plan) -> list[Figure]:
    figures: list[Figure] = []
    for key, step in plan.plan(chosen):
        if chosen.runs(key):
            figures.append(step(figures))
    return figures


def test_figures_sharing_a_side_share_one_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _recorded(monkeypatch)

    figures = _run(Plan(quick=True, protoset=Path("p"), only=["1", "2", "R1", "R2"]))

    assert [f.key for f in figures] == ["1", "2", "R1", "R2"]
    assert made == [
        ("get_file", frozenset({service.MEMORY, service.NOOP, service.REDIS})),
        ("batch", frozenset({service.MEMORY, service.YARDSTICK, service.REDIS})),
    ]


def test_a_redis_figure_alone_measures_only_its_two_sides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _recorded(monkeypatch)

    [figure] = _run(Plan(quick=True, protoset=Path("p"), only=["R1"]))

    assert figure.key == "R1" and figure.ratio == 1.0
    assert made == [("get_file", frozenset({service.MEMORY, service.REDIS}))]


def test_the_secured_figure_shares_figure_1s_getfile_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _recorded(monkeypatch)

    figures = _run(Plan(quick=True, protoset=Path("p"), only=["1", "S1"]))

    assert [f.key for f in figures] == ["1", "S1"]
    assert made == [("get_file", frozenset({service.MEMORY, service.NOOP, service.SECURED}))]
