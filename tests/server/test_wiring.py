"""The server's seams: the backend registry, interceptors and credentials
composed where the server is wired, and a backend's outage reaching callers as
UNAVAILABLE and the health service as NOT_SERVING."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support import FlakyStore

from contextstore.client import ContextStoreClient, Unavailable
from contextstore.server.app import SERVICE_NAME, Server
from contextstore.server.config import ServerConfig
from contextstore.server.store.registry import BACKENDS, open_store
from contextstore.server.wiring import build_server, credentials, interceptors

CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=0)


@pytest.fixture
def start(started: Callable[[Server], Server]) -> Callable[[Server], Server]:
    return started


def test_backends_come_from_the_registry() -> None:
    assert set(BACKENDS) == {"memory", "redis"}
    store = open_store(dataclasses.replace(CONFIG, stripes=3))
    assert (store.backend, store.properties["stripes"]) == ("memory", "3")


def test_the_default_wiring_serves_plaintext_with_no_interceptors() -> None:
    assert interceptors(CONFIG) == [] and credentials(CONFIG) is None


def test_build_server_serves_the_configured_backend(start: Callable[..., Server]) -> None:
    server = start(build_server(dataclasses.replace(CONFIG, stripes=5)))
    with ContextStoreClient(server.address) as client:
        assert client.server_info().backend_properties["stripes"] == "5"


# -- interceptors and credentials plug in without touching the server ---------


class Recorder(grpc.ServerInterceptor):
    def __init__(self) -> None:
        self.methods: list[str] = []

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        self.methods.append(handler_call_details.method)
        return continuation(handler_call_details)


def test_interceptors_see_every_call(start: Callable[..., Server]) -> None:
    recorder = Recorder()
    server = start(Server(CONFIG, interceptors=[recorder]))
    with ContextStoreClient(server.address) as client:
        client.cache_file("a", b"x")
        client.get_file("a")
    assert recorder.methods == [f"/{SERVICE_NAME}/CacheFile", f"/{SERVICE_NAME}/GetFile"]


def test_server_credentials_serve_tls(start: Callable[..., Server]) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    tls = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())]
    )
    server = start(Server(dataclasses.replace(CONFIG, listen="localhost:0"), credentials=tls))
    trust = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
    with ContextStoreClient(server.address, credentials=trust) as client:
        client.cache_file("a", b"over tls")
        found = client.get_file("a")
        assert found is not None and found.content == b"over tls"
    with (
        ContextStoreClient(server.address, timeout=5) as plaintext,
        pytest.raises(Unavailable),
    ):
        plaintext.get_file("a")


# -- a backend that goes away ------------------------------------------------------


def _health(address: str, service: str = "") -> Any:
    with grpc.insecure_channel(address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        return check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_an_unavailable_backend_is_unavailable_to_callers_and_to_health(
    start: Callable[..., Server],
) -> None:
    store = FlakyStore()
    server = start(Server(CONFIG, store))
    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        (health_pb2.HealthCheckResponse.NOT_SERVING),
    )
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a", b"x")
        assert _health(server.address) == serving
        store.down.set()
        for call in (lambda: client.get_file("a"), lambda: client.cache_file("b", b"y")):
            with pytest.raises(Unavailable) as failure:
                call()
            assert "the flaky backend is unavailable: connection refused" in failure.value.message
        assert _health(server.address) == not_serving
        assert _health(server.address, SERVICE_NAME) == not_serving
        assert not server.backend_health.check()  # still down: still NOT_SERVING
        assert _health(server.address) == not_serving
        store.down.clear()
        assert server.backend_health.check()
        assert _health(server.address) == serving
        found = client.get_file("a")
        assert found is not None and found.content == b"x"


def test_a_backend_down_at_start_is_not_serving(start: Callable[..., Server]) -> None:
    store = FlakyStore()
    store.down.set()
    server = start(Server(CONFIG, store))
    assert _health(server.address) == health_pb2.HealthCheckResponse.NOT_SERVING
