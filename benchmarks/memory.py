"""Figures of memory: 5a (bytes per cached file beyond its content) and 5b (peak
RSS of a server flooded with writes against its total budget).

5a runs in a fresh interpreter (``python -m benchmarks.memory``),
so nothing the parent allocated is counted. It reads VmRSS before and after
caching distinct 1 KiB contents, each one ``bytes`` object as a server holds
it, and charges the store with everything but the 1024 content bytes: the
bytes objects' own headers, the paths, digests and bookkeeping all count.

5b floods a real server with ghz (template paths, so every call is a new
entry) and reads the server's VmHWM from /proc.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import procs
from benchmarks.figures import Figure, Measure, Target

MiB = 1 << 20
CONTENT_BYTES = 1024
MODULE = "benchmarks.memory"


# -- figure 5a: bytes per entry --------------------------------------------------


def _fill_and_measure(files: int) -> dict[str, int]:
    """In this (fresh) process: VmRSS before and after caching ``files`` files."""
    from contextstore.server.store.base import Budgets, FileWrite
    from contextstore.server.store.memory import StripedStore

    store = StripedStore(budgets=Budgets(total_bytes=0, session_ttl_seconds=0))
    gc.collect()
    before = procs.status_field(os.getpid(), "VmRSS")
    for i in range(files):
        # Distinct contents and paths, built here so that only the store keeps them.
        content = i.to_bytes(8, "little") * (CONTENT_BYTES // 8)
        store.cache_file("bench", FileWrite(f"src/pkg_{i % 100}/module_{i}.py", content))
    gc.collect()
    after = procs.status_field(os.getpid(), "VmRSS")
    assert store.stats("bench").files == files
    return {"files": files, "before": before, "after": after}


def entry_overhead(*, files: int = 1_000_000) -> Figure:
    """Figure 5a: resident bytes per cached 1 KiB file beyond its 1024 content bytes."""
    argv = [sys.executable, "-m", MODULE, "--files", str(files)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=procs.REPO)
    got = json.loads(done.stdout)
    beyond = got["after"] - got["before"] - files * CONTENT_BYTES
    return Figure(
        key="5a",
        title="Resident bytes per cached 1 KiB file beyond its content",
        numerator=Measure(beyond, "B", "VmRSS growth minus 1024 B of content per file"),
        denominator=Measure(files, "files", "distinct 1 KiB files, no labels, one session"),
        target=Target("<=", 400),
        notes=(
            "in a fresh interpreter, in-process StripedStore (64 stripes), no budgets",
            "counted against the store: each content's bytes-object header and malloc "
            "rounding (~48 B), its path (e.g. src/pkg_12/module_3456.py), digest, bookkeeping",
        ),
    )


# -- figure 5b: peak RSS under a write flood ------------------------------------------


@dataclass(frozen=True, slots=True)
class Flood:
    """One write flood: payload size, budget, and how many times the budget is written."""

    payload_bytes: int = 16 * 1024
    budget_bytes: int = 256 * MiB
    overwrite: float = 3.5
    concurrency: int = 16

    @property
    def calls(self) -> int:
        return int(self.overwrite * self.budget_bytes / self.payload_bytes)


@dataclass(frozen=True, slots=True)
class FloodResult:
    idle_rss: int
    peak_rss: int
    calls: int

    def ratio(self, budget: int) -> float:
        return self.peak_rss / (budget + self.idle_rss)


def flood(spec: Flood, *, protoset: Path) -> FloodResult:
    """Flood a fresh server with CacheFile calls of new paths; its idle and peak RSS."""
    # Every call carries the same content (ghz varies only the path), which the
    # server would hold once: sharing off, so the flood costs what distinct files would.
    flags = ["--total-bytes", str(spec.budget_bytes), "--session-ttl-seconds", "0"]
    flags += ["--share-min-bytes", "0"]
    with procs.contextstore_server(*flags) as server:

        def run(rpc: str, data: object, calls: int) -> procs.LoadResult:
            return procs.ghz(
                server.address, rpc, data, protoset_path=protoset,
                concurrency=spec.concurrency, calls=calls,
            )  # fmt: skip

        run("GetFile", {"session_id": "warm", "path": "warm"}, 2000)  # threads, channels
        idle = procs.status_field(server.pid, "VmRSS")
        content = base64.b64encode(os.urandom(spec.payload_bytes)).decode()
        data = {"session_id": "flood", "path": "f/{{.RequestNumber}}", "content": content}
        result = run("CacheFile", data, spec.calls)
        peak = procs.status_field(server.pid, "VmHWM")
    if result.errors:
        raise RuntimeError(f"the flood failed: {result.errors}")
    return FloodResult(idle, peak, result.count)


def flood_peak(*, main: Flood | None = None, small: Flood | None = None, protoset: Path) -> Figure:
    """Figure 5b: peak RSS under a write flood ÷ (total budget + idle RSS)."""
    main = main or Flood()
    small = small or Flood(payload_bytes=1024, budget_bytes=32 * MiB, overwrite=3.0)
    big, tiny = flood(main, protoset=protoset), flood(small, protoset=protoset)
    return Figure(
        key="5b",
        title="Peak RSS under a write flood stays near the budget",
        numerator=Measure(big.peak_rss / MiB, "MiB", "server VmHWM after the flood"),
        denominator=Measure(
            (main.budget_bytes + big.idle_rss) / MiB, "MiB", "--total-bytes + idle VmRSS"
        ),
        target=Target("<=", 1.1),
        notes=(
            f"flood: {big.calls:,} CacheFile calls of {main.payload_bytes // 1024} KiB to new "
            f"paths ({main.overwrite}x the {main.budget_bytes // MiB} MiB budget), "
            f"ghz -c {main.concurrency}, no errors; --share-min-bytes 0 (every call sends "
            "the same content, which the server would otherwise hold once)",
            f"1 KiB flood, {small.budget_bytes // MiB} MiB budget: ratio "
            f"{tiny.ratio(small.budget_bytes):.2f} - budgets count content, path and labels, "
            "not bookkeeping (~350 B per entry), so tiny entries exceed the budget by it",
        ),
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="figure 5a's measuring child")
    parser.add_argument("--files", type=int, required=True)
    print(json.dumps(_fill_and_measure(parser.parse_args(argv).files)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
