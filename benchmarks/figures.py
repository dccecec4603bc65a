"""What every benchmark of the suite reports: a ratio, measured side by side.

A figure's numerator and denominator are measured in the same run, on the same
machine, interleaved where the two could drift apart; only their ratio is
compared with the target, since absolute rates move with the machine's load.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on a ratio: ``>= 0.90``, ``<= 5``, or both ends (``within 0.9 .. 1.1``).

    Two-sided targets are for agreement, where a ratio too high is as wrong as
    one too low: ``Target.within(0.9, 1.1)``.
    """

    op: str
    bound: float
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.op == "within":
            if self.upper is None or self.upper < self.bound:
                raise ValueError(f"a 'within' target needs upper >= bound, got {self}")
        elif self.op not in _COMPARE or self.upper is not None:
            raise ValueError(f"a target is >=, <= (one bound) or within (two), got {self.op!r}")

    @classmethod
    def within(cls, low: float, high: float) -> Target:
        return cls("within", low, high)

    def met_by(self, ratio: float) -> bool:
        if self.upper is not None:
            return self.bound <= ratio <= self.upper
        return _COMPARE[self.op](ratio, self.bound)

    def __str__(self) -> str:
        if self.upper is not None:
            return f"within {self.bound:g} .. {self.upper:g}"
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True, slots=True)
class Measure:
    """One side of a ratio: a value, its unit, and what was measured."""

    value: float
    unit: str
    what: str


@dataclass(frozen=True, slots=True)
class Figure:
    """One numbered figure: ``numerator / denominator`` against ``target``.

    ``invalid`` says why the measurement cannot be trusted (e.g. a load
    generator that fell behind its schedule): such a figure is missed whatever
    its ratio, and the report gives the reason.
    """

    key: str
    title: str
    numerator: Measure
    denominator: Measure
    target: Target
    notes: tuple[str, ...] = field(default=())
    invalid: str | None = None
    paired: float | None = None
    """Where the sides ran in rounds, back to back: the median of the rounds'
    own ratios, which is then the figure. A host whose speed drifts between
    rounds moves both sides of a round alike, so the drift falls out of each
    round's ratio; the sides' medians (numerator, denominator) keep it."""

    @property
    def ratio(self) -> float:
        if self.paired is not None:
            return self.paired
        return self.numerator.value / self.denominator.value

    @property
    def met(self) -> bool:
        return self.invalid is None and self.target.met_by(self.ratio)


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of each round's ``numerator / denominator`` (``Figure.paired``)."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def alternate(
    rounds: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[float, float]:
    """Medians of ``first`` and ``second``, run in turns whose order flips each round."""
    runs = alternate_many(rounds, {"first": first, "second": second})
    return statistics.median(runs["first"]), statistics.median(runs["second"])


def alternate_many(rounds: int, sides: Mapping[str, Callable[[], T]]) -> dict[str, list[T]]:
    """Every side's results, one a round, the order rotating each round.

    Round ``i`` starts with side ``i mod n``: over ``n`` rounds each side runs
    once in each place, so drift in the machine's speed falls on all alike
    (two sides simply flip).
    """
    names = list(sides)
    runs: dict[str, list[T]] = {name: [] for name in names}
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(sides[name]())
    return runs
