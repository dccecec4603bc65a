"""An open-loop GetFile load at a fixed rate, and whether the generator kept it.

A latency measured at a rate says something about the server only when the
load generator sent that rate, on schedule, with capacity to spare. A Python
generator on one CPU sends about 4,000-4,500 calls/s at most here, less on a
slower CPU: asked for more, it falls behind, calls queue in the generator, and
the latencies it reports are its own. So the load comes from ghz's open loop
(``--async --rps``, compiled: its capacity is ~2x the rates the suite asks
for), and every run is checked against its schedule (``schedule_problem``)
from ghz's own record of each call: when it was sent, how long it took.

Each call's latency is counted from its *intended* send time (the ``i``-th
call of a run at rate ``r`` is due ``i / r`` seconds after the first), so a
generator or server stall shows in every call it delayed.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import procs
from contextstore.bench.workload import key_path, session_name
from contextstore.client import ContextStoreClient, FileUpload

KEYS = 100
CONTENT = b"x" * 1024
RATE_TOLERANCE = 0.03
"""Calls sent in the measured window: within ±3% of rate * seconds."""
LATE_NS = 1_000_000
"""A call sent more than 1 ms after its intended time is late ..."""
ON_TIME_SHARE = 0.99
"""... and at least 99% of a run's calls must be on time."""
HEADROOM = 1.5
"""The generator's capacity (calls per CPU-second it spent) over the rate asked of it."""
METHOD = "contextstore.v1.ContextStoreService.GetFile"


def preload(address: str, data: Path, *, session_index: int = 0) -> None:
    """Cache ``KEYS`` 1 KiB files in a session (0 holds bench's keys); list them for ghz."""
    session = session_name(session_index)
    paths = [key_path(k) for k in range(KEYS)]
    with ContextStoreClient(address, timeout=10) as client:
        client.session(session).batch_cache_files([FileUpload(p, CONTENT) for p in paths])
    # An array: ghz sends its messages round robin, one per call, as bench cycles its keys.
    data.write_text(json.dumps([{"session_id": session, "path": p} for p in paths]))


@dataclass(frozen=True, slots=True)
class Sends:
    """What the generator did in one run, measured against what it was asked."""

    rate: float
    """Intended calls/s."""
    seconds: float
    """The measured window (after warm-up)."""
    sent: int
    """Calls sent within the window."""
    on_time: int
    """Calls intended within the window and sent at most ``LATE_NS`` after their time."""
    intended: int
    """Calls intended within the window."""
    worst_lag_ns: int
    calls: int
    """Calls the generator sent in the whole run, warm-up included."""
    cpu_seconds: float
    """The generator's CPU time over the whole run, all threads."""

    @property
    def capacity(self) -> float:
        """Calls/s the generator could send at 100% of its CPU, at this run's cost per call."""
        return self.calls / self.cpu_seconds if self.cpu_seconds > 0 else math.inf

    def describe(self) -> str:
        return (
            f"{self.sent:,} of {self.rate * self.seconds:,.0f} intended calls sent in "
            f"{self.seconds:g} s, {self.on_time / max(self.intended, 1):.1%} within "
            f"{LATE_NS / 1e6:g} ms of their time (worst {self.worst_lag_ns / 1e6:,.1f} ms), "
            f"capacity {self.capacity:,.0f} calls/s = {self.capacity / self.rate:.1f}x the rate"
        )


def schedule_problem(sends: Sends) -> str | None:
    """Why a run cannot carry a latency figure, or None when the generator kept its schedule."""
    due = sends.rate * sends.seconds
    if abs(sends.sent - due) > RATE_TOLERANCE * due:
        return (
            f"the generator sent {sends.sent:,} calls of {due:,.0f} intended at "
            f"{sends.rate:,.0f} calls/s (more than ±{RATE_TOLERANCE:.0%} off)"
        )
    if sends.on_time < ON_TIME_SHARE * sends.intended:
        return (
            f"the generator fell behind its schedule at {sends.rate:,.0f} calls/s: "
            f"{sends.intended - sends.on_time:,} of {sends.intended:,} calls sent more than "
            f"{LATE_NS / 1e6:g} ms late (worst {sends.worst_lag_ns / 1e6:,.1f} ms)"
        )
    if sends.capacity < HEADROOM * sends.rate:
        return (
            f"the generator had no headroom at {sends.rate:,.0f} calls/s: its capacity was "
            f"{sends.capacity:,.0f} calls/s, under {HEADROOM:g}x the rate"
        )
    return None


@dataclass(frozen=True, slots=True)
class OpenLoop:
    """One open-loop run: the sends, and latencies (µs, from intended send times)."""

    sends: Sends
    p50: float
    p99: float
    p999: float
    max: float
    errors: Mapping[str, int]


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..1] of an ascending, non-empty sequence."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timestamp_ns(timestamp: str) -> int:
    """Nanoseconds since the epoch of ghz's RFC 3339 timestamps (up to 9 fraction digits)."""
    whole, _, rest = timestamp.rstrip("Z").partition(".")
    fraction = rest[:9].ljust(9, "0") if rest else "0"
    seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    return round(seconds) * 1_000_000_000 + int(fraction)


def from_details(
    details: Sequence[Mapping[str, Any]], *, rate: float, warmup: float, seconds: float,
    cpu_seconds: float,
) -> OpenLoop:  # fmt: skip
    """An ``OpenLoop`` from ghz's per-call details (``timestamp``: ended; ``latency``: ns).

    ghz stamps a call with its end (gRPC's stats ``EndTime``): it was sent
    ``latency`` before. The ``i``-th call sent is the one intended at
    ``first + i / rate``; calls intended before ``warmup`` seconds are not measured.
    """
    calls = sorted(
        (timestamp_ns(d["timestamp"]) - int(d["latency"]), int(d["latency"]), d["status"])
        for d in details
    )
    if not calls:
        raise RuntimeError("ghz reported no calls")
    first = calls[0][0]
    start, end = first + int(warmup * 1e9), first + int((warmup + seconds) * 1e9)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    on_time = worst = intended_in = sent = 0
    for i, (sent_ns, took_ns, status) in enumerate(calls):
        intended = first + int(i * 1e9 / rate)
        sent += start <= sent_ns < end
        if not start <= intended < end:
            continue
        lag = max(0, sent_ns - intended)
        intended_in += 1
        on_time += lag <= LATE_NS
        worst = max(worst, lag)
        if status == "OK":
            latencies.append((lag + took_ns) / 1e3)
        else:
            errors[status] = errors.get(status, 0) + 1
    latencies.sort()
    sends = Sends(rate, seconds, sent, on_time, intended_in, worst, len(calls), cpu_seconds)
    if not latencies:
        return OpenLoop(sends, math.inf, math.inf, math.inf, math.inf, errors)
    return OpenLoop(
        sends, percentile(latencies, 0.5), percentile(latencies, 0.99),
        percentile(latencies, 0.999), latencies[-1], errors,
    )  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ghz_open_loop(
    address: str, *, rate: float, seconds: float, warmup: float, protoset: Path, data: Path,
    workers: int = 32,
) -> OpenLoop:  # fmt: skip
    """ghz sending GetFile at ``rate`` calls/s without waiting for answers, on one connection."""
    if rate < 1:  # ghz reads --rps 0 as "no limit": that is a closed loop, not this
        raise ValueError(f"an open loop needs a rate of at least 1 call/s, got {rate:g}")
    calls = max(1, round(rate * (warmup + seconds)))
    argv = [
        # No templates in the data: rendering them per call would cost ghz, not the server.
        procs.tool("ghz"), "--insecure", "--disable-template-functions",
        "--disable-template-data", "--protoset", str(protoset), "--call", METHOD,
        "--data-file", str(data), "--async", "--rps", f"{rate:.0f}",
        "--concurrency", str(workers), "--connections", "1", "--total", str(calls),
        "--timeout", "30s", "--format", "json", address,
    ]  # fmt: skip
    cpu = _children_cpu()
    # taskset execs ghz: the child's CPU time is ghz's own.
    done = subprocess.run(
        procs.pinned(argv, procs.LOAD_CPU), capture_output=True, text=True, check=True,
        timeout=warmup + seconds + 120,
    )  # fmt: skip
    cpu = _children_cpu() - cpu
    report: dict[str, Any] = json.loads(done.stdout)
    return from_details(
        report["details"], rate=round(rate), warmup=warmup, seconds=seconds, cpu_seconds=cpu
    )
