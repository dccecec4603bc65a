"""The cache's own metrics: hits and misses per RPC, live counts read at scrape time, backend
calls and errors, auth refusals; and no label ever holds a session id or a path."""

from __future__ import annotations

import functools
from collections.abc import Callable

import grpc
import pytest
from server.observability.scrape import Samples, scrape, value
from support import FlakyStore

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

CONFIG = ServerConfig(listen="127.0.0.1:0", metrics_listen="127.0.0.1:0", grace_seconds=0)


@pytest.fixture
def start(start_server: Callable[..., Server]) -> Callable[..., Server]:
    """Servers with metrics on (on a free port), and ``overrides``."""
    return functools.partial(start_server, metrics_listen=CONFIG.metrics_listen)


def _hits(samples: Samples, method: str) -> tuple[float, float]:
    return (
        value(samples, "contextstore_cache_hits_total", method=method),
        value(samples, "contextstore_cache_misses_total", method=method),
    )


def test_hits_and_misses_per_rpc(start: Callable[..., Server]) -> None:
    server = start()
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a.py", b"x")
        client.cache_analysis("a.py", "ast", b"tree")
        client.get_file("a.py")
        client.get_file("b.py")
        client.get_file("c.py")
        client.get_metadata("a.py")
        client.get_analysis("a.py", "ast")
        client.get_analysis("a.py", "lint")
        client.batch_get_files(["a.py", "b.py", "a.py", "d.py", "e.py"])
    after = scrape(server)
    assert _hits(after, "GetFile") == (1, 2)
    assert _hits(after, "GetMetadata") == (1, 0)
    assert _hits(after, "GetAnalysis") == (1, 1)
    assert _hits(after, "BatchGetFiles") == (2, 3)  # per path


def test_live_counts_are_read_at_scrape_time(start: Callable[..., Server]) -> None:
    server = start(session_entries=2)
    with ContextStoreClient(server.address, timeout=10) as client:
        one, two = client.session("one"), client.session("two")
        one.cache_file("a.py", b"12345")
        one.cache_analysis("a.py", "ast", b"tree")
        two.cache_file("b.py", b"xy")
        before = scrape(server)
        two.cache_file("c.py", b"z")
        two.cache_file("d.py", b"w")  # over two's two entries: b.py goes
        after = scrape(server)
    assert value(before, "contextstore_files") == 2
    assert value(before, "contextstore_analyses") == 1
    assert value(before, "contextstore_sessions") == 2
    stats = server.store.store_stats()
    assert value(before, "contextstore_bytes") > 0
    assert value(after, "contextstore_bytes") == stats.bytes
    assert value(after, "contextstore_files") == 3
    assert (
        value(after, "contextstore_evictions_total") - value(before, "contextstore_evictions_total")
        == 1
    )


def test_backend_calls_are_timed_and_their_errors_counted(start: Callable[..., Server]) -> None:
    store = FlakyStore()
    server = start(store)
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a.py", b"x")
        client.get_file("a.py")
        client.get_file("b.py")
        store.down.set()
    # A raw stub: the client retries UNAVAILABLE, which would call the backend again.
    with grpc.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as failed:
            pb_grpc.ContextStoreServiceStub(channel).GetFile(pb.GetFileRequest(path="a.py"))
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        down = scrape(server)  # succeeds: the store's own families are left out
    labels = {"backend": "flaky", "operation": "get_file"}
    assert value(down, "contextstore_backend_call_seconds_count", **labels) == 3
    assert value(down, "contextstore_backend_errors_total", **labels) == 1
    assert value(down, "contextstore_backend_errors_total", backend="flaky",
                 operation="cache_file") == 0  # fmt: skip
    assert ("contextstore_files", frozenset()) not in down
    store.down.clear()
    assert value(scrape(server), "contextstore_files") == 1


def test_the_memory_backend_is_not_timed(start: Callable[..., Server]) -> None:
    server = start()
    with ContextStoreClient(server.address, timeout=10) as client:
        client.get_file("a.py")
    assert not any(name.startswith("contextstore_backend_") for name, _ in scrape(server))


def test_stale_analyses_dropped_count_what_the_store_dropped(start: Callable[..., Server]) -> None:
    server = start()
    name = "contextstore_stale_analyses_dropped_total"
    assert value(scrape(server), name) == 0
    with ContextStoreClient(server.address, timeout=10) as client:
        session = client.session("s")
        session.cache_file("a.py", b"one")
        session.cache_analysis("a.py", "ast", b"{}")
        session.cache_analysis("a.py", "symbols", b"[]")
        session.cache_file("a.py", b"one")  # the same content: nothing is stale
        assert value(scrape(server), name) == 0
        session.cache_file("a.py", b"two")
    assert value(scrape(server), name) == 2


def test_auth_refusals_are_counted_by_code(start: Callable[..., Server]) -> None:
    server = start()
    assert server.metrics is not None
    server.metrics.auth_refused(grpc.StatusCode.PERMISSION_DENIED)
    server.metrics.auth_refused(grpc.StatusCode.PERMISSION_DENIED)
    server.metrics.auth_refused(grpc.StatusCode.UNAUTHENTICATED)
    after = scrape(server)
    refused = "contextstore_auth_refused_total"
    assert value(after, refused, grpc_code="PERMISSION_DENIED") == 2
    assert value(after, refused, grpc_code="UNAUTHENTICATED") == 1


SESSIONS = ("team-a/agent-7", "s3cr3t-session", "global", "x" * 200)
PATHS = ("src/main.py", "/etc/passwd", "dir with space/ä.txt", "GetFile", "ast")


def test_no_label_value_is_a_session_id_or_a_path(start: Callable[..., Server]) -> None:
    server = start()
    with ContextStoreClient(server.address, timeout=10) as client:
        for session_id in SESSIONS:
            session = client.session(session_id)
            for path in PATHS[:3]:
                session.cache_file(path, b"x")
                session.get_file(path)
                session.get_file(path + ".missing")
                session.cache_analysis(path, "ast", b"t")
                session.get_analysis(path, "ast")
                session.batch_get_files([path, "nope"])
            session.clear_session()
    labels = {pair for _, pairs in scrape(server) for pair in pairs}
    names = {name for name, _ in labels}
    assert names <= {"grpc_type", "grpc_service", "grpc_method", "grpc_code", "method",
                     "backend", "operation", "le"}  # fmt: skip
    values = {v for _, v in labels}
    assert not values & set(SESSIONS) and not values & set(PATHS[:3])
    assert {v for n, v in labels if n == "method"} <= {
        "GetFile",
        "GetMetadata",
        "GetAnalysis",
        "BatchGetFiles",
    }
