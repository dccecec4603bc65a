"""Figure 6: latency under load, with ``contextstore bench`` as the load.

First a closed loop finds the server's maximum GetFile rate; then an open loop
at 70% of it measures latency from each call's *intended* send time, so a stall
of the server shows in every call it delayed. Server and load generator are
pinned apart (see ``procs``), as everywhere in the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.figures import Figure, Measure, Target

LOAD_SHARE = 0.70
KEYS = 100


@dataclass(frozen=True, slots=True)
class LatencyScale:
    max_seconds: float = 5.0
    open_seconds: float = 15.0
    # The first seconds of a fresh client process stall now and then (p99 of
    # 10-30 ms in seconds 0-2, ~1.5 ms after), longer than bench's default warm-up.
    warmup_seconds: float = 3.0
    concurrency: int = 32


def bench(address: str, *args: str) -> dict[str, Any]:
    """One ``contextstore bench`` run of GetFile over preloaded keys; its JSON report.

    Calls the server refuses (RESOURCE_EXHAUSTED when a stall piles up more than
    max_concurrent_rpcs) are counted, not fatal: the figure's notes name them.
    A miss is fatal: every key was cached first, so a miss means a broken run.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        argv = [str(Path(sys.executable).parent / "contextstore"), "bench", "--quiet"]
        argv += ["--target", address, "--json", str(out), "--mix", "get=1", "--keys", str(KEYS)]
        argv += ["--allow-errors"]
        subprocess.run(
            procs.pinned([*argv, *args], procs.LOAD_CPU),
            check=True, timeout=600, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        report: dict[str, Any] = json.loads(out.read_text())
    if report["total"]["misses"]:
        raise RuntimeError(f"preloaded keys were missed: {report['total']}")
    return report


def latency_under_load(scale: LatencyScale) -> Figure:
    """p99 ÷ p50 of GetFile, open loop at 70% of the closed-loop maximum rate."""
    with procs.contextstore_server() as server:
        most = bench(server.address, "--concurrency", str(scale.concurrency),
                     "--duration", str(scale.max_seconds))  # fmt: skip
        rate = LOAD_SHARE * float(most["throughput"])
        run = bench(server.address, "--rate", f"{rate:.0f}", "--no-preload",
                    "--duration", str(scale.open_seconds),
                    "--warmup", str(scale.warmup_seconds))  # fmt: skip
    latency = run["total"]["latency"]
    how = f"open loop at {rate:,.0f} calls/s, {LOAD_SHARE:.0%} of the measured maximum"
    return Figure(
        key="6",
        title="Latency under load: GetFile p99 ÷ p50, open loop at 70% of the maximum rate",
        numerator=Measure(latency["p99"], "µs", f"p99 ({how})"),
        denominator=Measure(latency["p50"], "µs", "p50 (same run)"),
        target=Target("<=", 5.0),
        notes=(
            f"Maximum: {most['throughput']:,.0f} GetFile calls/s, closed loop with "
            f"{scale.concurrency} calls in flight; p99.9 {latency['p999']:,.0f} µs, "
            f"max {latency['max']:,.0f} µs, measured from each call's intended send time, "
            f"after {scale.warmup_seconds:g} s of the same load unmeasured.",
            f"Calls refused during the open loop: {run['total']['errors'] or 'none'}.",
        ),
    )
