"""Figures W1 and W2 measure what they say, at a tiny scale, against real servers."""

from __future__ import annotations

from pathlib import Path

from benchmarks import procs, watchers

TINY = watchers.WatchScale(rounds=1, calls=400, watchers=4, namespaces=2, events=20)


def test_w1_runs_with_every_watcher_open_and_events_flowing(tmp_path: Path) -> None:
    protoset = procs.protoset(tmp_path / "cs.protoset")
    figure = watchers.watchers_vs_none(TINY, protoset=protoset)

    assert figure.key == "W1" and figure.invalid is None
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    # The figure refuses to report if no event reached a watcher; it says how many did.
    assert "events delivered" in figure.notes[0]


def test_w2_times_each_write_to_its_event_on_another_server() -> None:
    figure = watchers.event_delay(TINY)

    assert figure.key == "W2" and figure.invalid is None
    assert 0 < figure.denominator.value < 1_000_000  # µs: a round trip, not a timeout
    assert figure.numerator.value < 30_000_000
