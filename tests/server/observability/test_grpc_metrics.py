"""The go-grpc-prometheus families: counters move by exactly the calls made, every call counted
(refused ones too), recorded before the client has its response."""

from __future__ import annotations

import dataclasses
import functools
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from server.observability.scrape import delta, grpc_labels, scrape, value
from support import BlockingStore

from contextstore.client import ContextStoreClient, InvalidArgument, ResourceExhausted
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.store.memory import StripedStore
from contextstore.server.wiring import build_server, outer_interceptors

CONFIG = ServerConfig(listen="127.0.0.1:0", metrics_listen="127.0.0.1:0", grace_seconds=0)


@pytest.fixture
def start(start_server: Callable[..., Server]) -> Callable[..., Server]:
    """Servers with metrics on (on a free port), and ``overrides``."""
    return functools.partial(start_server, metrics_listen=CONFIG.metrics_listen)


def test_each_call_is_counted_once_with_its_code(start: Callable[..., Server]) -> None:
    server = start()
    before = scrape(server)
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a.py", b"x")
        assert client.get_file("a.py") is not None  # OK
        assert client.get_file("b.py") is None  # NOT_FOUND
        assert client.get_file("c.py") is None
        with pytest.raises(InvalidArgument):
            client.get_file("")
        after = scrape(server)  # right after the last response: no wait
    get_file = grpc_labels("GetFile")
    assert delta(before, after, "grpc_server_started_total", **get_file) == 4
    handled = {
        code: delta(before, after, "grpc_server_handled_total", **get_file, grpc_code=code)
        for code in ("OK", "NOT_FOUND", "INVALID_ARGUMENT", "UNKNOWN")
    }
    assert handled == {"OK": 1, "NOT_FOUND": 2, "INVALID_ARGUMENT": 1, "UNKNOWN": 0}
    assert delta(before, after, "grpc_server_handling_seconds_count", **get_file) == 4
    assert delta(before, after, "grpc_server_msg_received_total", **get_file) == 4
    assert delta(before, after, "grpc_server_msg_sent_total", **get_file) == 1  # the OK one
    cache_file = grpc_labels("CacheFile")
    assert delta(before, after, "grpc_server_handled_total", **cache_file, grpc_code="OK") == 1
    # Every call lands in the +Inf bucket: the histogram is a real one.
    inf = value(after, "grpc_server_handling_seconds_bucket", **get_file, le="+Inf")
    assert inf == value(after, "grpc_server_handling_seconds_count", **get_file)


def test_calls_the_guard_refuses_are_counted(start: Callable[..., Server]) -> None:
    store = BlockingStore()
    server = start(store, max_concurrent_rpcs=1)
    with ContextStoreClient(server.address, timeout=30) as client:
        held = threading.Thread(target=client.get_file, args=("a.py",))
        held.start()
        try:
            assert store.entered.wait(30)
            with pytest.raises(ResourceExhausted):
                client.get_file("b.py")
            refused = scrape(server)
        finally:
            store.release.set()
            held.join(30)
    get_file = grpc_labels("GetFile")
    assert value(refused, "grpc_server_started_total", **get_file) == 2
    exhausted = {**get_file, "grpc_code": "RESOURCE_EXHAUSTED"}
    assert value(refused, "grpc_server_handled_total", **exhausted) == 1
    assert value(refused, "grpc_server_msg_received_total", **get_file) == 1  # never read
    assert value(refused, "grpc_server_handled_total", **get_file, grpc_code="NOT_FOUND") == 0


def test_grpc_type_is_the_declared_one_not_the_guards(start: Callable[..., Server]) -> None:
    server = start()
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = list(reflection.ServerReflectionInfo(iter([ask, ask]), timeout=10))
        assert len(replies) == 2
    after = scrape(server)
    check = grpc_labels("Check", "grpc.health.v1.Health", "unary")
    assert value(after, "grpc_server_handled_total", **check, grpc_code="OK") == 1
    info = grpc_labels("ServerReflectionInfo", "grpc.reflection.v1alpha.ServerReflection",
                       "bidi_stream")  # fmt: skip
    assert value(after, "grpc_server_handled_total", **info, grpc_code="OK") == 1
    assert value(after, "grpc_server_msg_received_total", **info) == 2
    assert value(after, "grpc_server_msg_sent_total", **info) == 2


def test_servers_in_one_process_count_apart(start: Callable[..., Server]) -> None:
    first, second = start(), start()
    assert first.metrics_address != second.metrics_address
    with ContextStoreClient(first.address, timeout=10) as client:
        client.get_file("a.py")
    get_file = {**grpc_labels("GetFile"), "grpc_code": "NOT_FOUND"}
    assert value(scrape(first), "grpc_server_handled_total", **get_file) == 1
    assert value(scrape(second), "grpc_server_handled_total", **get_file) == 0


def test_metrics_off_means_no_port_no_interceptor_no_decorator() -> None:
    config = dataclasses.replace(CONFIG, metrics_listen="")
    server = build_server(config)
    try:
        assert server.metrics is None and server.metrics_address is None
        assert isinstance(server.store, StripedStore)
        assert outer_interceptors(config) == []
    finally:
        server.store.close()


def test_a_stopped_server_no_longer_serves_metrics(start: Callable[..., Server]) -> None:
    server = start()
    address = server.metrics_address
    scrape(server)
    server.stop(grace=0)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{address}/metrics", timeout=5)


@pytest.mark.parametrize("listen", ["9464", "localhost:", ":x", "host:70000"])
def test_a_metrics_address_that_is_not_host_port_is_refused(listen: str) -> None:
    with pytest.raises(ValueError, match="--metrics-listen"):
        build_server(dataclasses.replace(CONFIG, metrics_listen=listen))


def test_service_label_is_the_full_service_name(start: Callable[..., Server]) -> None:
    server = start()
    with ContextStoreClient(server.address, timeout=10) as client:
        client.server_info()
    after = scrape(server)
    assert value(after, "grpc_server_handled_total", **grpc_labels("GetServerInfo"),
                 grpc_code="OK") == 1  # fmt: skip


def test_a_taken_metrics_port_is_a_clear_error(start: Callable[..., Server]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = build_server(dataclasses.replace(CONFIG, metrics_listen=f"127.0.0.1:{port}"))
        try:
            with pytest.raises(OSError, match=f"could not serve metrics on 127.0.0.1:{port}"):
                server.start()
        finally:
            server.stop(grace=0)
