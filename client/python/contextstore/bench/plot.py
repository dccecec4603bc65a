"""``--plot FILE.png``: throughput and latency percentiles over time, and a sweep's curve.

matplotlib is an optional dependency (``contextstore-grpc[plot]``), imported only here
and only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contextstore.bench.report import BenchReport


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt
    except ImportError:
        needs = "--plot needs matplotlib: pip install 'contextstore-grpc[plot]'"
        raise PlotUnavailable(needs) from None
    return plt


def write_plot(report: BenchReport, path: str | Path) -> None:
    """Write the report's charts as a PNG to ``path``."""
    plt = _pyplot()
    rows = 3 if report.steps else 2
    figure, axes = plt.subplots(rows, 1, figsize=(9, 3.2 * rows), constrained_layout=True)
    _throughput(axes[0], report)
    _latency(axes[1], report)
    if report.steps:
        _curve(axes[2], report)
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


def _ends(report: BenchReport) -> list[float]:
    # Each point is an interval, drawn at its end: what was measured by then.
    return [row.start + float(report.config["interval"]) for row in report.timeline]


def _throughput(ax: Any, report: BenchReport) -> None:
    ends = _ends(report)
    ax.plot(ends, [row.stats.throughput for row in report.timeline], marker="o", label="answered")
    ax.plot(ends, [row.stats.failed for row in report.timeline], marker="x", label="errors")
    ax.set_ylabel("calls/s")
    ax.set_title(f"throughput over time ({report.target})")
    ax.legend()


def _latency(ax: Any, report: BenchReport) -> None:
    ends = _ends(report)
    for name in ("p50", "p90", "p99", "p999", "max"):
        values = [getattr(row.stats.latency, name) / 1000 for row in report.timeline]
        ax.plot(ends, values, marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("latency, ms")
    ax.set_title("latency percentiles per interval")
    ax.legend()


def _curve(ax: Any, report: BenchReport) -> None:
    rates = [step.stats.throughput for step in report.steps]
    for name in ("p50", "p99"):
        values = [getattr(step.stats.latency, name) / 1000 for step in report.steps]
        ax.plot(rates, values, marker="o", label=name)
    for step in report.steps:
        ax.annotate(f"c={step.concurrency}", (step.stats.throughput, step.stats.latency.p99 / 1000))
    if report.knee is not None:
        ax.axvline(report.knee.stats.throughput, linestyle="--", color="grey", label="knee")
    ax.set_xlabel("throughput, calls/s")
    ax.set_ylabel("latency, ms")
    ax.set_title("throughput / latency (concurrency sweep)")
    ax.legend()
