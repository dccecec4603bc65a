"""``contextstore bench --target A,B``: one run loads several servers, each checked first."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from bench.runs import run_bench
from support import clean_env, console_script

from contextstore.client import ContextStoreClient, Stats
from contextstore.server.app import Server

StartServer = Callable[..., Server]
SHORT = ("--duration", "1", "--warmup", "0.2", "--keys", "50")


def _stats(server: Server) -> Stats:
    with ContextStoreClient(server.address, timeout=10) as client:
        return client.store_stats()


def _bench_fails(*args: str) -> subprocess.CompletedProcess[str]:
    """A run refused before any load: exit 2, one line on stderr, no report."""
    done = subprocess.run(
        [console_script(), "bench", "--quiet", *args, "--duration", "1"],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    return done


def test_one_run_loads_every_server_of_a_list(start_server: StartServer, tmp_path: Path) -> None:
    a, b = start_server(), start_server()
    done = run_bench(tmp_path, "--target", f"{a.address},{b.address}", "--mix", "get=1", *SHORT)

    assert done.status == 0, done.stderr
    assert done.report["target"] == f"{a.address},{b.address}"
    assert done.report["extra"]["server"]["started_locally"] is False
    # Two independent stores: each key was preloaded once, on one of them (all
    # on the first, when it connected before the other), then read from both.
    assert _stats(a).files + _stats(b).files == 50
    assert _stats(a).hits + _stats(a).misses > 0
    assert _stats(b).hits + _stats(b).misses > 0


def test_every_server_of_a_list_must_take_the_workload(start_server: StartServer) -> None:
    roomy, small = start_server(), start_server(max_content_bytes=2048)

    # The small server comes second: asked through the list, it might never answer.
    done = _bench_fails("--target", f"{roomy.address},{small.address}", "--payload-bytes", "4KiB")

    assert done.stderr.startswith(f"contextstore bench: {small.address}: --payload-bytes of up")
    assert "max_content_bytes (2 KiB)" in done.stderr
    assert _stats(roomy).files == 0 and _stats(small).files == 0  # refused before any load


def test_a_list_grpc_cannot_read_is_a_usage_error() -> None:
    done = _bench_fails("--target", "localhost:50051,localhost:50052")

    assert done.stderr.startswith("contextstore bench: 'localhost' in target 'localhost:50051,")
    assert "dns:///NAME:PORT" in done.stderr
