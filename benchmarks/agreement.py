"""Figure 7: ``contextstore bench`` against ghz, the same GetFile load on the same server.

Two load generators driving the same server the same way must read the same
rate; a ratio far from 1 means one of them measures itself (its own CPU, its
own counting) as much as the server. The load is unary GetFile over preloaded
keys, closed loop, the same calls in flight on one connection for each tool.

The two tools run *at once*, each with half the calls in flight, and each
tool's rate is its own count over bench's measured window (ghz's calls are
taken from its per-call records, by their end time). Run one after the other,
as this figure was, the ratio read the machine rather than the tools: both
counted exactly the calls the server served (its GetStats hits), neither was
CPU-bound (ghz used half of its CPU, bench three quarters), yet the server's
CPU per call moved by ±15% from run to run with whatever else shared its CPU,
and the ratio with it (0.91 and 1.19 within the hour). At once, the server
serves both tools at the same moment, so anything left is the tools' own doing:
a tool that is slow to send its next call gets a smaller share.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import latency, openloop, procs
from benchmarks.figures import Figure, Measure, Target
from contextstore.bench.workload import session_name
from contextstore.client import ContextStoreClient

TOLERANCE = 0.10
STARTUP_SECONDS = 5.0
"""ghz runs this much longer than bench's warm-up and measured time, to cover bench's start."""


@dataclass(frozen=True, slots=True)
class AgreementScale:
    rounds: int = 3
    seconds: float = 5.0
    concurrency: int = 32  # in total, half each: enough to keep a one-CPU server busy


@dataclass(frozen=True, slots=True)
class Side:
    """One round: each tool's calls/s, and the calls it counted against the server's hits."""

    bench: float
    ghz: float
    counted: tuple[int, int]
    """bench's calls (warm-up included) and ghz's OK calls, all of the round."""
    served: tuple[int, int]
    """GetFile hits of bench's session and of ghz's over the round (GetStats)."""


def _hits(address: str) -> tuple[int, int]:
    with ContextStoreClient(address, timeout=10) as client:
        return (client.session(session_name(0)).stats().hits,
                client.session(session_name(1)).stats().hits)  # fmt: skip


def check_counts(side: Side, in_flight: int) -> None:
    """Each tool counted the calls the server served it, but for the calls ghz cancels
    at the end of its timed run (at most its calls in flight, served but not counted)."""
    (bench, ghz), (to_bench, to_ghz) = side.counted, side.served
    if bench != to_bench or not 0 <= to_ghz - ghz <= in_flight:
        raise RuntimeError(f"counted {side.counted} calls, the server served {side.served}")


def ghz_rate_within(details: Sequence[Mapping[str, Any]], start_ns: int, seconds: float) -> float:
    """ghz's OK calls per second that ended within ``seconds`` of ``start_ns`` (unix ns)."""
    end_ns = start_ns + int(seconds * 1e9)
    stamps = [openloop.timestamp_ns(d["timestamp"]) for d in details if d["status"] == "OK"]
    if not stamps or min(stamps) > start_ns or max(stamps) < end_ns:
        raise RuntimeError("ghz's run did not cover bench's measured window")
    return sum(start_ns <= t < end_ns for t in stamps) / seconds


def _ghz(address: str, data: Path, protoset: Path, in_flight: int, seconds: float) -> list[str]:
    return [
        # No templates in the data: rendering them per call would cost ghz, not the server.
        procs.tool("ghz"), "--insecure", "--disable-template-functions",
        "--disable-template-data", "--protoset", str(protoset), "--call", openloop.METHOD,
        "--data-file", str(data), "--concurrency", str(in_flight), "--connections", "1",
        "--duration", f"{seconds:g}s", "--format", "json", address,
    ]  # fmt: skip


def _bench(address: str, out: Path, calls_in_flight: int, seconds: float) -> list[str]:
    argv = [str(Path(sys.executable).parent / "contextstore"), "bench", "--quiet"]
    argv += ["--target", address, "--json", str(out), "--mix", "get=1"]
    argv += ["--keys", str(latency.KEYS), "--no-preload", "--procs", "1", "--connections", "1"]
    argv += ["--concurrency", str(calls_in_flight), "--duration", f"{seconds:g}", "--warmup", "1"]
    return argv


def side_by_side(address: str, scale: AgreementScale, *, protoset: Path, data: Path) -> Side:
    """One round: bench and ghz at once, each with half the calls in flight, each pinned
    to the load CPU; each one's answered GetFile calls/s over bench's measured window."""
    half = scale.concurrency // 2
    before = _hits(address)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        ghz_seconds = STARTUP_SECONDS + 1 + scale.seconds + 1
        ghz = subprocess.Popen(
            procs.pinned(_ghz(address, data, protoset, half, ghz_seconds), procs.LOAD_CPU),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            subprocess.run(
                procs.pinned(_bench(address, out, half, scale.seconds), procs.LOAD_CPU),
                check=True, timeout=120, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            ghz_out, _ = ghz.communicate(timeout=ghz_seconds + 60)
        finally:
            ghz.kill()
            ghz.wait()
        report: dict[str, Any] = json.loads(out.read_text())
    after = _hits(address)
    if report["failed"] or report["total"]["misses"]:
        raise RuntimeError(f"bench calls failed or missed: {report['total']}")
    start = int(report["extra"]["measured_from_unix_ns"])
    ghz_calls = json.loads(ghz_out)["details"]
    side = Side(
        float(report["throughput"]), ghz_rate_within(ghz_calls, start, report["seconds"]),
        counted=(sum(w["calls"] for w in report["workers"]),
                 sum(d["status"] == "OK" for d in ghz_calls)),
        served=(after[0] - before[0], after[1] - before[1]),
    )  # fmt: skip
    check_counts(side, half)
    return side


def _preload(address: str, data: Path) -> None:
    """bench's keys in session 0; the same in session 1 for ghz, listed in ``data``.

    Apart, so the server's counters (GetStats of each session) tell the tools' calls apart.
    """
    openloop.preload(address, data.with_suffix(".bench"), session_index=0)
    openloop.preload(address, data, session_index=1)


def bench_vs_ghz(scale: AgreementScale, *, protoset: Path) -> Figure:
    """Figure 7: bench's GetFile calls/s ÷ ghz's, at once on the same server."""
    with procs.contextstore_server() as server, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "requests.json"
        _preload(server.address, data)
        sides = [
            side_by_side(server.address, scale, protoset=protoset, data=data)
            for _ in range(scale.rounds)
        ]
    ratios = [s.bench / s.ghz for s in sides]
    how = f"closed loop, {scale.concurrency // 2} calls in flight, 1 connection, both at once"
    return Figure(
        key="7",
        title="Load generator agreement: GetFile calls/s, contextstore bench ÷ ghz",
        numerator=Measure(statistics.median(s.bench for s in sides), "calls/s",
                          f"contextstore bench, 1 process ({how})"),
        denominator=Measure(statistics.median(s.ghz for s in sides), "calls/s",
                            f"ghz ({how})"),
        target=Target.within(1 - TOLERANCE, 1 + TOLERANCE),
        notes=(
            f"unary GetFile of {latency.KEYS} preloaded 1 KiB files round robin (bench in "
            "session 0, ghz in session 1), one server pinned to CPU "
            f"{procs.SERVER_CPU}, both tools pinned to CPU {procs.LOAD_CPU} and running at "
            f"once: medians of {scale.rounds} rounds of {scale.seconds:g} s, each tool's rate "
            "its own count over bench's measured window; the rounds' ratios were "
            + ", ".join(f"{r:.3g}" for r in ratios),
            "two-sided: bench reading high is as wrong as reading low. Each round checks "
            "that each tool counted the calls the server served it (its session's GetStats "
            "hits); bench counted/served: "
            + ", ".join(f"{s.counted[0]:,}/{s.served[0]:,}" for s in sides)
            + "; ghz: " + ", ".join(f"{s.counted[1]:,}/{s.served[1]:,}" for s in sides),
        ),
    )  # fmt: skip
