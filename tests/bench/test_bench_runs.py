"""``contextstore bench`` end to end: real processes, a real server on a real port.

Every run is short (about a second of load); waits are bounded by timeouts and
nothing sleeps to synchronise: the stalled server is released by a timer that
starts when the stall does.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.runs import run_bench
from support import BlockingStore, clean_env, console_script, on_port_50051

from contextstore.bench.workload import OPS
from contextstore.client import ContextStoreClient, Unavailable
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

StartServer = Callable[..., Server]
PERCENTILES = ("p50", "p90", "p99", "p999", "max")
EVERY_RPC = (
    "get=40,metadata=10,cache=10,analysis=10,invalidate=4,invalidate_analysis=4,clear=2,"
    "batch_get=10,batch_cache=10"
)
SHORT = ("--duration", "1", "--warmup", "0.2", "--keys", "50")
STALL_SECONDS = 1.0


def _assert_ordered(stats: dict[str, Any]) -> None:
    values = [stats["latency"][p] for p in PERCENTILES]
    assert values == sorted(values), values
    assert values[0] > 0


def test_every_rpc_from_two_processes_against_a_server(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server()
    before_ns = time.time_ns()

    done = run_bench(
        tmp_path, "--target", server.address, "--procs", "2", "--connections", "3",
        "--mix", EVERY_RPC, "--sessions", "2", "--global-namespace", "--distribution", "zipf",
        "--interval", "0.5", "--payload-bytes", "100-2KiB", *SHORT,
    )  # fmt: skip

    assert done.status == 0, done.stderr
    report = done.report
    assert report["failed"] == 0 and report["total"]["errors"] == {}
    assert set(report["ops"]) == set(OPS)
    for op, stats in report["ops"].items():
        assert stats["calls"] > 0, op
        _assert_ordered(stats)
    _assert_ordered(report["total"])
    total_calls = report["total"]["calls"]
    assert sum(s["calls"] for s in report["ops"].values()) == total_calls
    assert len(report["timeline"]) == 2
    assert sum(row["stats"]["calls"] for row in report["timeline"]) == total_calls
    assert report["seconds"] >= 1.0  # the duration, and the last calls' tail
    assert report["throughput"] == pytest.approx(total_calls / report["seconds"])
    assert [w["index"] for w in report["workers"]] == [0, 1]
    assert all(w["calls_per_cpu_second"] > 0 for w in report["workers"])
    assert "get" in done.stdout and "p99.9" in done.stdout  # the table
    # When measuring began, on the wall clock (figure 7 lines ghz's records up with it):
    # after the workers' start (SHORT's warm-up), a run's measured seconds before now.
    began_ns = report["extra"]["measured_from_unix_ns"]
    assert before_ns < began_ns <= time.time_ns() - int(report["seconds"] * 1e9)


def test_a_target_without_a_port_means_port_50051(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = on_port_50051(start_server)
    host = server.address.rsplit(":", 1)[0]
    done = run_bench(tmp_path, "--target", host, "--procs", "1", "--mix", "get=1", *SHORT)
    assert done.status == 0, done.stderr  # gRPC alone would have gone to port 443
    with ContextStoreClient(server.address) as client:
        assert client.store_stats().hits + client.store_stats().misses > 0


def test_without_target_it_starts_and_stops_its_own_server(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "--procs", "1", "--mix", "get=9,cache=1", *SHORT)

    assert done.status == 0, done.stderr
    report = done.report
    assert report["extra"]["server"]["started_locally"] is True
    assert report["target"].startswith("127.0.0.1:") and not report["target"].endswith(":0")
    assert report["ops"]["get"]["calls"] > 0
    assert report["ops"]["get"]["misses"] == 0  # preloaded, and nothing in the mix deletes
    with ContextStoreClient(report["target"], timeout=2) as client, pytest.raises(Unavailable):
        client.server_info()  # stopped after the run


@pytest.mark.parametrize(
    ("overrides", "args", "status"),
    [
        ({"max_concurrent_rpcs": 1}, ["--mix", "get=1", "--concurrency", "16"],
         "RESOURCE_EXHAUSTED"),
        ({"max_batch_items": 2}, ["--mix", "batch_get=1", "--batch-size", "5"],
         "INVALID_ARGUMENT"),
    ],
    ids=["over-max-concurrent-rpcs", "over-max-batch-items"],
)  # fmt: skip
def test_failed_calls_are_counted_by_status_and_fail_the_run(
    start_server: StartServer, tmp_path: Path, overrides: dict[str, Any], args: list[str],
    status: str,
) -> None:  # fmt: skip
    server = start_server(**overrides)
    common = ("--target", server.address, "--no-preload", "--duration", "1", "--warmup", "0")

    done = run_bench(tmp_path, *common, *args)
    allowed = run_bench(tmp_path, *common, *args, "--allow-errors", name="allowed")

    assert done.status == 1, done.stderr
    errors = done.report["total"]["errors"]
    assert errors.get(status, 0) > 0, errors
    assert done.report["failed"] == sum(errors.values())
    assert status in done.stderr and status in done.stdout
    assert allowed.status == 0, allowed.stderr


def test_a_payload_over_the_servers_limit_is_a_usage_error(server: Server) -> None:
    # The test server takes contents of up to 1 MiB.
    argv = [console_script(), "bench", "--quiet", "--target", server.address, "--mix",
            "get=9,cache=1", "--payload-bytes", "512-1025KiB", "--duration", "1"]  # fmt: skip

    done = subprocess.run(
        argv, capture_output=True, text=True, env=clean_env(), timeout=60, check=False
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("contextstore bench: --payload-bytes of up to 1025 KiB is ")
    assert "max_content_bytes (1 MiB)" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    with ContextStoreClient(server.address, timeout=10) as client:
        stats = client.store_stats()
    assert (stats.files, stats.hits, stats.misses) == (0, 0, 0)  # refused before any call


def test_worker_memory_does_not_grow_with_keys_times_payload(
    server: Server, tmp_path: Path
) -> None:
    # Every (operation, key) of the mix is prepared: kept serialized whole, 400 keys of
    # 512 KiB payloads for CacheFile and CacheAnalysis took 400 MiB more than 4 keys did.
    common = ("--target", server.address, "--mix", "get=98,cache=1,analysis_put=1",
              "--payload-bytes", "512KiB", "--no-preload", "--duration", "0.5", "--warmup", "0",
              "--concurrency", "4")  # fmt: skip

    few = run_bench(tmp_path, *common, "--keys", "4", name="few")
    many = run_bench(tmp_path, *common, "--keys", "400", name="many")

    assert few.status == many.status == 0, (few.stderr, many.stderr)
    [few_rss], [many_rss] = ([w["max_rss_bytes"] for w in r.report["workers"]] for r in (few, many))
    assert few_rss > 0
    assert many_rss - few_rss < 64 << 20, (few_rss, many_rss)
    assert "peak RSS of each worker process" in many.stdout


@pytest.fixture
def stalling_server() -> Iterator[tuple[Server, BlockingStore]]:
    """A server whose first GetFile stalls every GetFile for STALL_SECONDS, once."""
    store = BlockingStore()
    server = Server(ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0), store)
    server.start()
    timers: list[threading.Timer] = []

    def release_after_the_stall() -> None:
        if store.entered.wait(60):
            timer = threading.Timer(STALL_SECONDS, store.release.set)
            timers.append(timer)
            timer.start()

    watcher = threading.Thread(target=release_after_the_stall, daemon=True)
    watcher.start()
    try:
        yield server, store
    finally:
        store.release.set()
        store.entered.set()
        watcher.join(10)
        for timer in timers:
            timer.cancel()
        server.stop(grace=0)


def test_open_loop_shows_a_stall_in_many_calls_not_one(
    stalling_server: tuple[Server, BlockingStore], tmp_path: Path
) -> None:
    server, store = stalling_server
    rate, seconds = 150, 3

    done = run_bench(
        tmp_path, "--target", server.address, "--rate", str(rate), "--duration", str(seconds),
        "--warmup", "0", "--mix", "get=1", "--keys", "10",
    )  # fmt: skip

    assert done.status == 0, done.stderr
    assert store.release.is_set()
    total = done.report["total"]
    # Open loop: exactly the scheduled calls, none skipped while the server stalled.
    assert total["calls"] == rate * seconds
    # Calls meant to go during the 1 s stall waited for its end: about 150 of 450
    # calls, their latency (from the intended send time) spread over 0..1 s. So
    # p90 sits near 0.7 s, where a clock started at the actual send, or one call
    # waiting, would leave it at a few milliseconds.
    stall_us = STALL_SECONDS * 1e6
    assert total["latency"]["p90"] >= 0.3 * stall_us, total["latency"]
    assert total["latency"]["max"] >= 0.8 * stall_us, total["latency"]
    assert total["latency"]["p50"] < 0.3 * stall_us, total["latency"]


def test_sweep_finds_a_knee_and_plots_it(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server()
    plot = tmp_path / "bench.png"

    done = run_bench(
        tmp_path, "--target", server.address, "--sweep", "--concurrency", "4",
        "--duration", "0.5", "--interval", "0.25", "--warmup", "0", "--keys", "20",
        "--plot", str(plot),
    )  # fmt: skip

    assert done.status == 0, done.stderr
    report = done.report
    assert [step["concurrency"] for step in report["steps"]] == [1, 2, 4]
    peak = max(step["stats"]["throughput"] for step in report["steps"])
    knee = report["knee"]
    assert knee["stats"]["throughput"] >= 0.9 * peak
    smaller = [s for s in report["steps"] if s["concurrency"] < knee["concurrency"]]
    assert all(s["stats"]["throughput"] < 0.9 * peak for s in smaller)
    assert len(report["timeline"]) == 6  # two intervals per step
    png = plot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 20_000
