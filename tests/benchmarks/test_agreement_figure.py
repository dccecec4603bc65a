"""Figure 7 (bench against ghz) at a tiny scale: both tools run and the figure is sane.

Whether the two agree is the figure's value, read from ``make bench``; a timed
assertion here would test the machine.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import agreement, procs


def test_bench_vs_ghz_measures_both_tools(tmp_path: Path) -> None:
    scale = agreement.AgreementScale(rounds=1, seconds=0.5, concurrency=4)

    figure = agreement.bench_vs_ghz(scale, protoset=procs.protoset(tmp_path / "cs.protoset"))

    assert figure.key == "7"
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert "bench" in figure.numerator.what and "ghz" in figure.denominator.what
    assert (figure.target.bound, figure.target.upper) == (0.9, 1.1)
    assert figure.met == (0.9 <= figure.ratio <= 1.1)
