"""``contextstore bench`` against ghz: same server, same workload, throughput within 10%.

The workload is unary GetFile over preloaded keys, closed loop, the same
concurrency, connections and duration for both tools. The server runs as its own
process pinned to CPU 0 and each load generator is pinned to CPU 1 (``taskset``),
identically for both, so neither steals the server's CPU. Each round runs both
tools back to back, in an order that flips every round, and the median of the
rounds' ratios is compared, so drift in the machine's speed hits both alike.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.runs import run_bench

from benchmarks import procs
from contextstore.bench.localserver import local_server
from contextstore.bench.workload import key_path, session_name
from contextstore.client import ContextStoreClient, FileUpload

REPO = Path(__file__).resolve().parents[2]
GHZ = REPO / ".tools" / "bin" / "ghz"
KEYS = 100
CONCURRENCY = 32  # enough to keep a one-CPU server busy with either tool
SECONDS = 3.0
ROUNDS = 5
SERVER = procs.pinned([], procs.SERVER_CPU)
CLIENT = procs.pinned([], procs.LOAD_CPU)


def _preload(address: str, tmp_path: Path) -> Path:
    """Cache the keys bench uses; write them as ghz's round-robin request data."""
    session = session_name(0)
    uploads = [FileUpload(path=key_path(k), content=b"x" * 1024) for k in range(KEYS)]
    with ContextStoreClient(address, timeout=10) as client:
        client.session(session).batch_cache_files(uploads)
    data = tmp_path / "requests.json"
    data.write_text(json.dumps([{"session_id": session, "path": key_path(k)} for k in range(KEYS)]))
    return data


def _ghz(address: str, protoset: Path, data: Path) -> float:
    """ghz's answered calls per second (the calls it cancels at the end excluded)."""
    command = [
        # No templates in the data: rendering them per call would cost ghz, not the server.
        *CLIENT, str(GHZ), "--insecure", "--disable-template-functions", "--disable-template-data",
        "--protoset", str(protoset), "--call", "contextstore.v1.ContextStoreService.GetFile",
        "--data-file", str(data), "--concurrency", str(CONCURRENCY), "--connections", "1",
        "--duration", f"{SECONDS}s", "--format", "json", address,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    ok = result["statusCodeDistribution"].get("OK", 0)
    assert ok >= 0.99 * result["count"], result["statusCodeDistribution"]
    return float(ok / (result["total"] / 1e9))


def _hits(address: str) -> int:
    with ContextStoreClient(address, timeout=10) as client:
        return client.store_stats().hits


def _bench(address: str, tmp_path: Path) -> float:
    before = _hits(address)
    done = run_bench(
        tmp_path, "--target", address, "--procs", "1", "--connections", "1",
        "--concurrency", str(CONCURRENCY), "--duration", str(SECONDS), "--warmup", "0",
        "--mix", "get=1", "--keys", str(KEYS), "--no-preload",
        prefix=CLIENT,
    )  # fmt: skip
    assert done.status == 0, done.stderr
    assert done.report["ops"]["get"]["misses"] == 0  # every key preloaded: real reads
    # What bench counted is what the server served: no call lost or counted twice.
    assert done.report["total"]["calls"] == _hits(address) - before
    return float(done.report["throughput"])


def test_bench_throughput_agrees_with_ghz(tmp_path: Path) -> None:
    assert GHZ.exists(), f"{GHZ} is missing: run `make tools`"
    protoset = procs.protoset(tmp_path / "context_store.protoset")
    with local_server(wrapper=SERVER) as server:
        address = server.address
        data = _preload(address, tmp_path)
        rounds = [_round(i, address, tmp_path, protoset, data) for i in range(ROUNDS)]

    # A round's two runs are neighbours in time: their ratio cancels slow drift.
    ratio = statistics.median(bench / ghz for ghz, bench in rounds)
    print(f"bench/ghz = {ratio:.3f}; (ghz, bench) per round: {rounds}")
    assert 0.9 <= ratio <= 1.1, (ratio, rounds)


def _round(i: int, address: str, tmp_path: Path, protoset: Path, data: Path) -> tuple[float, float]:
    """(ghz, bench) calls/s of one round; the order flips every round."""
    if i % 2 == 0:
        ghz = _ghz(address, protoset, data)
        return ghz, _bench(address, tmp_path)
    bench = _bench(address, tmp_path)
    return _ghz(address, protoset, data), bench
