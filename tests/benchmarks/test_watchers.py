"""Figures W1 and W2 measure what they say, at a tiny scale, against real servers."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks import procs, watchers
from contextstore.client import ContextStoreClient

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


def _writes_seen(client: ContextStoreClient, namespaces: int) -> int:
    # Write n caches f"f{n % 100}.py" in session n % namespaces: below 100 writes,
    # each is a file of its own.
    return sum(len(list(client.session(f"w1-{i}").list_files())) for i in range(namespaces))


def test_the_watch_load_writes_only_between_run_and_pause() -> None:
    # W1 measures the server without watchers while the watched one's writer is
    # paused: a write after "paused" would land in the other side's round.
    scale = watchers.WatchScale(watchers=2, namespaces=2, writes_per_second=500.0)
    with procs.contextstore_server() as server, ContextStoreClient(server.address) as client:
        load = watchers._WatchLoad(server.address, scale)
        try:
            assert _writes_seen(client, 2) == 0  # open, not yet told to run
            with load.writing():
                deadline = time.monotonic() + 30
                while _writes_seen(client, 2) < 3 and time.monotonic() < deadline:
                    pass  # until the writer is seen writing
            paused_at = _writes_seen(client, 2)
        finally:
            flow = load.close()
        assert 3 <= paused_at < 100
        assert flow.writes == paused_at == _writes_seen(client, 2)


def test_w1_is_the_median_of_its_rounds_ratios(tmp_path: Path) -> None:
    protoset = procs.protoset(tmp_path / "cs.protoset")
    figure = watchers.watchers_vs_none(
        watchers.WatchScale(rounds=3, calls=300, watchers=2, namespaces=1), protoset=protoset
    )
    assert figure.paired is not None and figure.ratio == figure.paired
    each = [float(r) for r in figure.notes[-1].split(": ")[1].split(";")[0].split(", ")]
    assert len(each) == 3 and abs(sorted(each)[1] - figure.ratio) < 1e-3
