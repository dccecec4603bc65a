"""``contextstore bench`` counts what the server served: no call lost, none counted twice.

Only what is deterministic is asserted here. Whether bench's *rate* agrees with
ghz's on the same server is figure 7 of the benchmark suite (``python -m
benchmarks --only 7``, run by ``make bench``): a timed assertion on a shared
machine tests the machine, and failed CI at a ratio of 1.108.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.runs import run_bench

from contextstore.bench.workload import key_path, session_name
from contextstore.client import ContextStoreClient, FileUpload
from contextstore.server.app import Server

KEYS = 100
SECONDS = 1.0
TIMEOUT = 10.0


def _preload(address: str) -> None:
    """Cache the keys bench reads, so that every one of its calls is a hit."""
    uploads = [FileUpload(path=key_path(k), content=b"x" * 1024) for k in range(KEYS)]
    with ContextStoreClient(address, timeout=10) as client:
        client.session(session_name(0)).batch_cache_files(uploads)


def _hits(address: str) -> int:
    with ContextStoreClient(address, timeout=10) as client:
        return client.store_stats().hits


def test_bench_counts_exactly_the_calls_the_server_served(server: Server, tmp_path: Path) -> None:
    _preload(server.address)
    before = _hits(server.address)

    done = run_bench(
        tmp_path, "--target", server.address, "--procs", "2", "--connections", "2",
        "--concurrency", "8", "--duration", str(SECONDS), "--warmup", "0",
        "--timeout", str(TIMEOUT), "--mix", "get=1", "--keys", str(KEYS), "--no-preload",
    )  # fmt: skip

    assert done.status == 0, done.stderr
    report = done.report
    served = _hits(server.address) - before
    # With no warm-up every call bench made was measured: its count is the server's.
    assert report["total"]["calls"] == served > 0
    assert report["ops"]["get"]["misses"] == 0 and report["failed"] == 0  # real reads
    assert sum(w["calls"] for w in report["workers"]) == served
    # The rate is what was counted over the time it was counted in; that time is the
    # duration plus the last calls' tail, bounded only by their deadline.
    assert report["throughput"] == pytest.approx(served / report["seconds"])
    assert SECONDS <= report["seconds"] <= SECONDS + TIMEOUT
