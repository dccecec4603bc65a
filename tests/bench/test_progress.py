"""Live progress: every phase shows while it runs, each on its own clock."""

from __future__ import annotations

import io
import time
from itertools import groupby

from rich.console import Console
from rich.progress import Progress as RichProgress

from contextstore.bench.progress import PhaseWatch, Progress
from contextstore.bench.render import LiveProgress, columns, describe
from contextstore.bench.runner import BenchConfig, Workload, run
from contextstore.bench.worker import Phase
from contextstore.server.app import Server

WARMUP, DURATION = 0.6, 1.0
SECOND = 1_000_000_000


def test_every_phase_is_shown_from_its_start_to_its_end(server: Server) -> None:
    events: list[Progress] = []
    config = BenchConfig(
        target=server.address, procs=2, connections=2, duration=DURATION, warmup=WARMUP,
        interval=0.5, workload=Workload(keys=20),
    )  # fmt: skip

    report = run(config, on_progress=events.append)

    # One phase after another, none coming back once it is over.
    phases = [(label, list(group)) for label, group in groupby(events, key=lambda e: e.label)]
    assert [label for label, _ in phases] == ["start", "preload", "warm-up", "measuring"]
    for label, shown in phases:
        # Shown as it began, not only at its end; finished once, last.
        assert not shown[0].finished and shown[-1].finished, label
        assert [e.finished for e in shown].count(True) == 1, label
        elapsed = [e.elapsed for e in shown]
        assert elapsed == sorted(elapsed), label
    last = {label: shown[-1] for label, shown in phases}
    # Two workers, one batch of their ten keys each.
    assert (last["preload"].completed, last["preload"].total, last["preload"].unit) == (
        2, 2, "calls",
    )  # fmt: skip
    assert last["warm-up"].elapsed == WARMUP
    measuring = last["measuring"]
    # The measured phase's clock ends where the report's measured time does.
    assert measuring.elapsed == report.seconds >= DURATION
    assert (measuring.completed, measuring.total) == (DURATION, DURATION)
    assert measuring.calls == report.total.calls > 0 and measuring.failed == 0


def _rows(updates: list[Progress]) -> dict[str, str]:
    """The display's rows after ``updates``, by phase, as plain text."""
    console = Console(file=io.StringIO(), width=100, color_system=None)
    progress = RichProgress(*columns(), console=console, auto_refresh=False)
    live = LiveProgress(progress)
    for update in updates:
        live(update)
    console.print(progress.make_tasks_table(progress.tasks))
    assert isinstance(console.file, io.StringIO)
    lines = console.file.getvalue().splitlines()
    return {line.split()[0]: line.rstrip() for line in lines if line.strip()}


def test_rows_show_each_phases_own_clock_whenever_they_are_drawn() -> None:
    # Fed in an instant, as a display may be: the clocks are the phases', not the display's.
    rows = _rows([
        Progress("start", 0.0, 0.0, None),
        Progress("start", 1.4, 1.4, 1.4, finished=True),
        Progress("preload", 0.0, 0, None, unit="calls"),
        Progress("preload", 2.5, 40, 40, unit="calls", calls=40, finished=True),
        Progress("warm-up", 1.0, 1.0, 1.0, finished=True),
        Progress("measuring", 0.0, 0.0, 5.0),
        Progress("measuring", 5.02, 5.0, 5.0, calls=5000, rate=996.0, finished=True),
    ])  # fmt: skip

    assert rows["start"].endswith("0:00:01")
    assert "preload  40/40 calls" in rows["preload"] and rows["preload"].endswith("0:00:02")
    assert rows["warm-up"].endswith("0:00:01 / 0:00:01")
    assert "measuring  996 calls/s  0 errors" in rows["measuring"]
    assert rows["measuring"].endswith("0:00:05 / 0:00:05")


def test_each_sweep_step_warms_up_on_its_own_row() -> None:
    events: list[Progress] = []
    # A step whose warm-up and measured time are both over by now.
    past = time.monotonic_ns() - 10 * SECOND
    step = Phase(origin_ns=past, warmup=0.5, duration=2.0, interval=1.0, concurrency=4,
                 schedule=None)  # fmt: skip

    watch = PhaseWatch(events.append, step, "c=4 (3/3)")
    watch.finish(2.1)

    assert [(e.label, e.finished) for e in events] == [
        ("c=4 (3/3) warm-up", True), ("c=4 (3/3)", False), ("c=4 (3/3)", False),
        ("c=4 (3/3)", True),
    ]  # fmt: skip
    assert (events[0].elapsed, events[-1].elapsed, events[-1].completed) == (0.5, 2.1, 2.0)


def test_warm_ups_show_no_rate_a_sweeps_included() -> None:
    for label in ("start", "warm-up", "c=4 (3/5) warm-up"):
        assert describe(Progress(label, 0.5, 0.5, 2.0)) == label
    assert "calls/s" in describe(Progress("measuring", 0.5, 0.5, 2.0))
