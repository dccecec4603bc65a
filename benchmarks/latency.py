"""Figure 6: latency under load against latency at light load.

A closed loop (``contextstore bench``, 32 calls in flight) finds the server's
maximum GetFile rate; then an open loop (ghz, see ``openloop``) sends GetFile
at 10% and at 70% of it, in turns on the same server, and the figure is the
p99 at 70% over the p50 at 10%: how much a busy server's tail costs a caller
against what an idle one answers in. (p99 over p50 of the same run, the
figure's former definition, passed with two huge latencies when the generator
itself could not keep the rate.) A run whose generator fell behind its
schedule, or had no headroom, makes the figure invalid, hence missed; so does
a maximum that moved by more than 15% between before and after the open loops
(measured low, "70%" would be a light load and the figure would pass by accident).

Server and generator are pinned apart (see ``procs``), as everywhere in the suite.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import openloop, procs
from benchmarks.figures import Figure, Measure, Target, alternate_many
from benchmarks.openloop import OpenLoop

LOAD_SHARE = 0.70
LIGHT_SHARE = 0.10
KEYS = openloop.KEYS
MAX_DRIFT = 0.15
"""The maximum measured after the open loops within ±15% of the one before."""


@dataclass(frozen=True, slots=True)
class LatencyScale:
    max_seconds: float = 5.0
    open_seconds: float = 10.0
    warmup_seconds: float = 2.0
    concurrency: int = 32
    rounds: int = 3
    """Light and heavy runs each, in turns whose order flips every round."""


def bench(address: str, *args: str) -> dict[str, Any]:
    """One ``contextstore bench`` run of GetFile over preloaded keys; its JSON report.

    Calls the server refuses are counted, not fatal (``--allow-errors``). A miss
    is fatal: every key was cached first, so a miss means a broken run.
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


def latency_under_load(scale: LatencyScale, *, protoset: Path | None = None) -> Figure:
    """p99 of GetFile at 70% of the maximum rate ÷ p50 at 10%, both open loop."""
    with tempfile.TemporaryDirectory() as tmp:
        protoset = protoset or procs.protoset(Path(tmp) / "cs.protoset")
        data = Path(tmp) / "requests.json"
        with procs.contextstore_server() as server:
            openloop.preload(server.address, data)

            def maximum() -> float:
                return float(
                    bench(server.address, "--concurrency", str(scale.concurrency), "--no-preload",
                          "--duration", str(scale.max_seconds))["throughput"]
                )  # fmt: skip

            most = maximum()

            def at(share: float) -> OpenLoop:
                return openloop.ghz_open_loop(
                    server.address, rate=share * most, seconds=scale.open_seconds,
                    warmup=scale.warmup_seconds, protoset=protoset, data=data,
                )  # fmt: skip

            runs = alternate_many(
                scale.rounds, {"light": lambda: at(LIGHT_SHARE), "heavy": lambda: at(LOAD_SHARE)}
            )
            after = maximum()
    return figure(Maxima(most, after), light=runs["light"], heavy=runs["heavy"], scale=scale)


@dataclass(frozen=True, slots=True)
class Maxima:
    """The closed-loop maximum before the open-loop runs (their rates' base) and after."""

    before: float
    after: float

    def problem(self) -> str | None:
        """Why the rates' base cannot be trusted: the machine's speed moved under the run.

        Measured low (the server's CPU taken by something else), "70%" would be a
        light load and the figure would pass by accident.
        """
        if abs(self.after - self.before) <= MAX_DRIFT * self.before:
            return None
        return (
            f"the maximum rate moved from {self.before:,.0f} to {self.after:,.0f} calls/s "
            f"over the run (more than ±{MAX_DRIFT:.0%}): the load was not 70% of it"
        )


def figure(
    maxima: Maxima, *, light: Sequence[OpenLoop], heavy: Sequence[OpenLoop], scale: LatencyScale
) -> Figure:
    """Figure 6 from its runs: medians over rounds, invalid if any run or the maximum was."""
    most = maxima.before
    p99, p50 = _median(heavy, "p99"), _median(light, "p50")
    problems = [
        f"{name} run {i + 1}: {problem}"
        for name, runs in (("10%", light), ("70%", heavy))
        for i, run in enumerate(runs)
        if (problem := openloop.schedule_problem(run.sends)) is not None
    ]
    problems += [drift] if (drift := maxima.problem()) is not None else []
    errors = sum(n for r in (*light, *heavy) for n in r.errors.values())
    how = f"ghz open loop, medians of {len(heavy)} runs of {scale.open_seconds:g} s"
    return Figure(
        key="6",
        title="Latency under load: GetFile p99 at 70% of the maximum rate ÷ p50 at 10%",
        numerator=Measure(p99, "µs", f"p99 at {LOAD_SHARE * most:,.0f} calls/s ({how})"),
        denominator=Measure(p50, "µs", f"p50 at {LIGHT_SHARE * most:,.0f} calls/s ({how})"),
        target=Target("<=", 5.0),
        invalid="; ".join(problems) or None,
        notes=(
            f"Maximum: {most:,.0f} GetFile calls/s before the open loops, {maxima.after:,.0f} "
            f"after, contextstore bench closed loop with {scale.concurrency} calls in flight. "
            "Latency from each call's intended send time, "
            f"after {scale.warmup_seconds:g} s of the same load unmeasured; light and heavy "
            "runs in turns on one server.",
            f"At 70%: p99 ÷ p50 of the same runs {p99 / _median(heavy, 'p50'):.3g}"
            f"; p99.9 {_median(heavy, 'p999'):,.0f} µs, max "
            f"{max(r.max for r in heavy):,.0f} µs; calls failed: {errors or 'none'}.",
            "Generator: valid only if within ±3% of the intended calls were sent, 99% of "
            "them within 1 ms of their time, with a capacity of at least 1.5x the rate. "
            f"70%: {_tightest(heavy).describe()}; 10%: {_tightest(light).describe()} "
            "(of each level, the run with the least headroom).",
        ),
    )


def _tightest(runs: Sequence[OpenLoop]) -> openloop.Sends:
    return min((r.sends for r in runs), key=lambda s: s.capacity / s.rate)


def _median(runs: Sequence[OpenLoop], percentile: str) -> float:
    return statistics.median(float(getattr(r, percentile)) for r in runs)
