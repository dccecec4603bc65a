"""The access log: one line per call with method, code, duration, identity and bytes; on with
--access-log or at DEBUG, and no interceptor at all otherwise."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from contextstore.client import ContextStoreClient
from contextstore.server import callinfo
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.observability.interceptor import Observer
from contextstore.server.observability.logs import ACCESS_LOGGER, parse_logfmt
from contextstore.server.wiring import build_server, outer_interceptors
from contextstore.v1 import context_store_pb2 as pb

CONFIG = ServerConfig(listen="127.0.0.1:0", access_log=True, grace_seconds=0)
GET_FILE = "/contextstore.v1.ContextStoreService/GetFile"
CACHE_FILE = "/contextstore.v1.ContextStoreService/CacheFile"


@pytest.fixture
def start(started: Callable[[Server], Server]) -> Callable[[Server], Server]:
    return started


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    return [parse_logfmt(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_one_line_per_call(
    start: Callable[[Server], Server], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", ACCESS_LOGGER)
    server = start(build_server(CONFIG))
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a.py", b"12345")
        client.get_file("a.py")
        client.get_file("missing.py")
    lines = _lines(caplog)
    assert [(line["method"], line["code"]) for line in lines] == [
        (CACHE_FILE, "OK"), (GET_FILE, "OK"), (GET_FILE, "NOT_FOUND"),
    ]  # fmt: skip
    assert {line["identity"] for line in lines} == {"-"}
    assert int(lines[1]["request_bytes"]) == pb.GetFileRequest(path="a.py").ByteSize()
    assert int(lines[1]["response_bytes"]) > 5  # the content and its metadata
    assert int(lines[2]["response_bytes"]) == 0
    assert all(float(line["duration_ms"]) >= 0 for line in lines)
    assert all(line["peer"].startswith("ipv4:127.0.0.1:") for line in lines)


class Authenticates(grpc.ServerInterceptor):
    """What the auth interceptor does for the access log: name the call's identity.

    Inside the guard, so it sees the unary handlers as the service declares them.
    """

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        behavior = handler.unary_unary

        def named(request: Any, context: grpc.ServicerContext) -> Any:
            info = callinfo.current()
            assert info is not None and info.method == details.method
            info.identity = "agent 7"
            return behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            named, handler.request_deserializer, handler.response_serializer
        )


def test_the_identity_is_the_one_auth_named(
    start: Callable[[Server], Server], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", ACCESS_LOGGER)
    server = start(
        Server(
            CONFIG, outer_interceptors=outer_interceptors(CONFIG), interceptors=[Authenticates()]
        )
    )
    with ContextStoreClient(server.address, timeout=10) as client:
        client.get_file("a.py")
    (line,) = _lines(caplog)
    assert line["identity"] == "agent 7"


@pytest.mark.parametrize(
    ("access_log", "level", "on"),
    [(True, "INFO", True), (False, "DEBUG", True), (False, "INFO", False)],
)
def test_on_by_flag_or_at_debug_and_absent_otherwise(
    access_log: bool, level: str, on: bool
) -> None:
    config = dataclasses.replace(CONFIG, access_log=access_log, log_level=level)
    observers = outer_interceptors(config)
    assert [type(o) for o in observers] == ([Observer] if on else [])
