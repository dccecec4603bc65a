"""Figures W1 and W2: what Watch streams cost unary calls, and how fast an event travels.

W1: GetFile calls/s (ghz, as F1) against a server with ``--max-watchers``
streams open and events flowing to them (``watch_load``, a process of its
own), divided by the same against a server with none, both running side by
side; alternating rounds.

W2: two servers on one Redis. A writer caches a file through server A and
notes its OK; a watcher on server B notes when the event arrives; then the
writer times a GetFile round trip through A. p99 of the event's delay after
the OK, divided by p99 of the round trip, both from the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import procs, service
from benchmarks.figures import Figure, Measure, Target, alternate_many, paired_ratio
from benchmarks.openloop import percentile
from contextstore.client import ContextStoreClient

W1_TARGET = Target(">=", 0.9)
W2_TARGET = Target("<=", 3.0)
WITH, WITHOUT = "watchers", "no watcher"


@dataclass(frozen=True, slots=True)
class WatchScale:
    rounds: int = 9
    calls: int = 10_000
    concurrency: int = 16
    watchers: int = 64
    """W1's streams: the server's default ``--max-watchers``, every slot taken."""
    namespaces: int = 8
    writes_per_second: float = 50.0
    """W1's events: writes a second over the watched sessions (each event goes to
    ``watchers / namespaces`` streams)."""
    events: int = 2000
    """W2's writes, each timed to its event."""


@dataclass(frozen=True, slots=True)
class Flow:
    """What the watchers received, once the figure is measured."""

    events: int
    writes: int


class _WatchLoad:
    """``watch_load`` against ``address``, on the load CPU: every stream open once made."""

    def __init__(self, address: str, scale: WatchScale) -> None:
        argv = [
            sys.executable, "-m", "benchmarks.watch_load", "--target", address,
            "--watchers", str(scale.watchers), "--namespaces", str(scale.namespaces),
            "--writes-per-second", str(scale.writes_per_second),
        ]  # fmt: skip
        self._child = subprocess.Popen(
            procs.pinned(argv, procs.LOAD_CPU), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, cwd=procs.REPO,
        )  # fmt: skip
        self._expect("ready")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Its writer runs (events flow) inside, and has stopped once it ends."""
        self._say("run", "running")
        try:
            yield
        finally:
            self._say("pause", "paused")

    def close(self) -> Flow:
        """End the load: what its watchers received, and the writes it made."""
        child = self._child
        assert child.stdin is not None and child.stdout is not None
        child.stdin.close()
        with child.stdout:
            told = json.loads(child.stdout.readline() or "{}")
        child.wait(60)
        return Flow(told.get("events", 0), told.get("writes", 0))

    def _say(self, command: str, answer: str) -> None:
        assert self._child.stdin is not None
        self._child.stdin.write(command + "\n")
        self._child.stdin.flush()
        self._expect(answer)

    def _expect(self, line: str) -> None:
        assert self._child.stdout is not None
        if self._child.stdout.readline().strip() != line:
            raise RuntimeError(f"watch_load did not answer {line!r}")


def watchers_vs_none(scale: WatchScale, *, protoset: Path) -> Figure:
    """W1: GetFile calls/s with every watcher slot taken and events flowing ÷ with none.

    Two servers, started once: the watched one, with ``watch_load``'s streams
    open, and one with none. Rounds alternate between them; the writes that
    make the events run only while the watched server is measured. Short
    alternating rounds against the same two processes keep the machine's
    drift, and each process's luck at start, out of the ratio; the figure is
    the median of the rounds' own ratios (``Figure.paired``).
    """
    load = service.get_file_load(
        service.ServiceScale(), protoset, concurrency=scale.concurrency, calls=scale.calls
    )
    flags = ("--max-watchers", str(scale.watchers))
    with (
        procs.contextstore_server(*flags) as watched,
        procs.contextstore_server(*flags) as alone,
    ):
        for server in (watched, alone):
            service.preload_files(server.address, load.paths, None)
        watchers = _WatchLoad(watched.address, scale)
        try:

            def with_events() -> service.Rate:
                with watchers.writing():
                    return service.measure(watched, load)

            with watchers.writing():
                service.warm_up(watched, load)
            service.warm_up(alone, load)
            runs = alternate_many(
                scale.rounds, {WITH: with_events, WITHOUT: lambda: service.measure(alone, load)}
            )
        finally:
            flow = watchers.close()
    if not flow.events:
        raise RuntimeError("no event reached a watcher: nothing flowed")
    ours, none = service.rate(runs[WITH]), service.rate(runs[WITHOUT])
    with_rates, none_rates = ([r.per_second for r in runs[side]] for side in (WITH, WITHOUT))
    each = ", ".join(f"{w / n:.3f}" for w, n in zip(with_rates, none_rates, strict=True))
    cpu = [service.median(runs[side], lambda r: r.server_cpu_us) for side in (WITH, WITHOUT)]
    how = service.get_file_how(service.ServiceScale())
    return Figure(
        key="W1",
        title="GetFile calls/s with every watcher slot taken and events flowing ÷ with none",
        numerator=Measure(ours, "calls/s", f"{scale.watchers} Watch streams open ({how})"),
        denominator=Measure(none, "calls/s", f"no Watch stream ({how})"),
        target=W1_TARGET,
        notes=(
            f"{scale.watchers} streams (--max-watchers) over {scale.namespaces} sessions, "
            f"{scale.writes_per_second:g} writes/s to them while the watched server is "
            f"measured: {flow.writes:,} writes, {flow.events:,} events delivered; watchers "
            "and writer in one process on the load CPU, beside ghz",
            "two servers started once, the watched one and one with no stream, measured in "
            f"turn: median of {scale.rounds} alternating rounds of {scale.calls:,} calls",
            f"server CPU per GetFile: {cpu[0]:.0f} µs with, {cpu[1]:.0f} µs without",
            "the figure is the median of the rounds' own ratios (each round measures both "
            f"servers back to back): {each}; "
            f"the sides' medians above give {ours / none:.3f}",
        ),
        paired=paired_ratio(with_rates, none_rates),
    )


# -- W2 --------------------------------------------------------------------------


class _Arrivals:
    """When each path's FILE_CACHED event reached the watcher."""

    def __init__(self, client: ContextStoreClient) -> None:
        self.at: dict[str, float] = {}
        self._arrived = threading.Condition()
        self._watch = client.session("w2").watch()
        self.open = threading.Event()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        for response in self._watch:
            now = time.perf_counter()
            self.open.set()
            with self._arrived:
                for event in response.events:
                    self.at[event.path] = now
                self._arrived.notify_all()

    def wait_for(self, path: str) -> float:
        with self._arrived:
            if not self._arrived.wait_for(lambda: path in self.at, timeout=30):
                raise RuntimeError(f"the event of {path} never came")
            return self.at[path]

    def close(self) -> None:
        self._watch.close()


@contextmanager
def _two_clients() -> Iterator[tuple[ContextStoreClient, ContextStoreClient]]:
    """Clients of two servers sharing one redis-server."""
    with procs.redis_server() as redis:
        flags = service.redis_flags(redis)
        with (
            procs.contextstore_server(*flags) as a,
            procs.contextstore_server(*flags) as b,
            ContextStoreClient(a.address) as to_a,
            ContextStoreClient(b.address) as to_b,
        ):
            yield to_a, to_b


def event_delay(scale: WatchScale) -> Figure:
    """W2: p99 of a CacheFile's OK to its event on another server ÷ p99 of a GetFile."""
    delays, trips = [], []
    with _two_clients() as (writer, watcher):
        arrivals = _Arrivals(watcher)
        if not arrivals.open.wait(30):
            raise RuntimeError("the watch did not open")
        session = writer.session("w2")
        for i in range(scale.events):
            path = f"f{i}.py"
            session.cache_file(path, b"x" * 256)
            ok = time.perf_counter()
            delays.append(arrivals.wait_for(path) - ok)
            start = time.perf_counter()
            session.get_file(path)
            trips.append(time.perf_counter() - start)
        arrivals.close()
    delay, trip = percentile(sorted(delays), 0.99), percentile(sorted(trips), 0.99)
    return Figure(
        key="W2",
        title="Redis: a CacheFile's OK to its event at a watcher on another server, p99 ÷ "
        "a GetFile round trip's p99",
        numerator=Measure(delay * 1e6, "µs", f"p99 of {scale.events:,} writes' event delays"),
        denominator=Measure(trip * 1e6, "µs", f"p99 of {scale.events:,} GetFile round trips"),
        target=W2_TARGET,
        notes=(
            "two servers on one redis-server (all three pinned to the server CPU); writer "
            "(through A) and watcher (through B) in one Python process on the load CPU",
            f"p50: delay {percentile(sorted(delays), 0.5) * 1e6:.0f} µs, round trip "
            f"{percentile(sorted(trips), 0.5) * 1e6:.0f} µs; one write at a time, each "
            "waiting for its event",
        ),
    )
