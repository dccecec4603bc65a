"""Human output of ``contextstore bench``: the live progress line and the final tables (rich)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.table import Table
from rich.text import Text

from contextstore.bench.progress import Progress as BenchProgress
from contextstore.bench.report import BenchReport, Stats

LATENCY_COLUMNS = ("p50", "p90", "p99", "p99.9", "max")


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.2f}"


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))  # 0:00:05, as rich shows elapsed time


class PhaseTimeColumn(ProgressColumn):
    """The phase's own clock, ``elapsed / duration`` for a timed phase.

    Not rich's TimeElapsedColumn: that counts from when the row was added, and
    a measured phase's row used to be added at its first report, a second in.
    """

    def render(self, task: Task) -> Text:
        elapsed = _clock(task.fields.get("elapsed", 0.0))
        if task.fields.get("timed") and task.total is not None:
            return Text(f"{elapsed} / {_clock(task.total)}", style="progress.elapsed")
        return Text(elapsed, style="progress.elapsed")


def describe(update: BenchProgress) -> str:
    if update.unit == "calls":
        of = f"/{update.total:,.0f}" if update.total is not None else ""
        return f"{update.label}  {update.completed:,.0f}{of} calls"
    # Start and warm-ups (a sweep's are "c=4 (3/5) warm-up") have no rate to show.
    if update.calls or not (update.label == "start" or update.label.endswith("warm-up")):
        return f"{update.label}  {update.rate:,.0f} calls/s  {update.failed} errors"
    return update.label


class LiveProgress:
    """A row per phase of the run, with its rate, errors and own clock, on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, update: BenchProgress) -> None:
        if update.label not in self.tasks:
            self.tasks[update.label] = self.progress.add_task(update.label, total=update.total)
        # A finished phase shows a full bar, whatever its unit.
        total = update.completed if update.finished and update.total is None else update.total
        timed = update.unit == "s" and update.total is not None  # a clock with an end
        self.progress.update(
            self.tasks[update.label], description=describe(update), completed=update.completed,
            total=total, elapsed=update.elapsed, timed=timed,
        )  # fmt: skip


def columns() -> tuple[ProgressColumn, ...]:
    return (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), PhaseTimeColumn())


@contextmanager
def live_progress(*, enabled: bool) -> Iterator[LiveProgress | None]:
    """A live display on stderr when it is a terminal and ``enabled``; else ``None``."""
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield None
        return
    with Progress(*columns(), console=console, transient=False) as progress:
        yield LiveProgress(progress)


def _latency_cells(stats: Stats) -> list[str]:
    lat = stats.latency
    return [_ms(v) for v in (lat.p50, lat.p90, lat.p99, lat.p999, lat.max)]


def _ops_table(report: BenchReport) -> Table:
    table = Table(title=f"contextstore bench → {report.target}  ({report.seconds:g} s measured)")
    for name in ("op", "calls", "calls/s", "misses", "errors"):
        table.add_column(name, justify="left" if name == "op" else "right")
    for name in LATENCY_COLUMNS:
        table.add_column(f"{name} ms", justify="right")
    rows: list[tuple[str, Stats]] = [*report.ops.items(), ("total", report.total)]
    for name, stats in rows:
        style = "bold" if name == "total" else None
        cells = [name, f"{stats.calls:,}", f"{stats.throughput:,.0f}", f"{stats.misses:,}",
                 f"{stats.failed:,}", *_latency_cells(stats)]  # fmt: skip
        table.add_row(*cells, style=style)
    return table


def _errors_table(report: BenchReport) -> Table | None:
    rows = [(op, code, n) for op, s in report.ops.items() for code, n in s.errors.items()]
    if not rows:
        return None
    table = Table(title="errors by status code", title_style="bold red")
    for name in ("op", "status", "calls"):
        table.add_column(name, justify="right" if name == "calls" else "left")
    for op, code, count in rows:
        table.add_row(op, code, f"{count:,}")
    return table


def _sweep_table(report: BenchReport) -> Table | None:
    if not report.steps:
        return None
    table = Table(title="concurrency sweep (knee: smallest concurrency with >= 90% of peak)")
    for name in ("concurrency", "calls/s", "errors", *(f"{c} ms" for c in LATENCY_COLUMNS), ""):
        table.add_column(name, justify="right")
    for step in report.steps:
        mark = "← knee" if report.knee is not None and step == report.knee else ""
        table.add_row(str(step.concurrency), f"{step.stats.throughput:,.0f}",
                      f"{step.stats.failed:,}", *_latency_cells(step.stats), mark)  # fmt: skip
    return table


def print_report(report: BenchReport, console: Console) -> None:
    tables: list[Any] = [_sweep_table(report), _ops_table(report), _errors_table(report)]
    for table in tables:
        if table is not None:
            console.print(table)
    cpu = ", ".join(f"{w.calls_per_cpu_second:,.0f}" for w in report.workers)
    console.print(f"client capacity, calls per CPU-second of each worker process: {cpu}")
    rss = ", ".join(f"{w.max_rss_bytes / (1 << 20):,.0f} MiB" for w in report.workers)
    console.print(f"client memory, peak RSS of each worker process: {rss}")
