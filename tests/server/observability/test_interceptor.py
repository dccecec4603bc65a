"""The observer on handlers of every shape, without a server: what it records for a behaviour
that returns, sets a code, raises without one, or streams."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from contextstore.server.observability.interceptor import Observer
from contextstore.server.observability.logs import AccessLog, parse_logfmt
from contextstore.server.observability.metrics import GrpcMetrics

METHOD = "/test.v1.Unknown/Do"  # not in the descriptor pool: the handler's shape decides


class FakeContext:
    """What the observer reads of a ServicerContext."""

    def __init__(self, code: grpc.StatusCode | None = None, active: bool = True) -> None:
        self._code = code
        self._active = active

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def is_active(self) -> bool:
        return self._active

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"


class Details:
    method = METHOD


def _observe(handler: Any) -> tuple[Any, CollectorRegistry]:
    registry = CollectorRegistry()
    observer = Observer(GrpcMetrics(registry), AccessLog(logging.getLogger("test.access")))
    observed = observer.intercept_service(lambda details: handler, Details())  # type: ignore[arg-type]
    assert observed is not None
    return observed, registry


def _handled(registry: CollectorRegistry, grpc_type: str, code: str) -> float | None:
    return registry.get_sample_value(
        "grpc_server_handled_total",
        {"grpc_type": grpc_type, "grpc_service": "test.v1.Unknown", "grpc_method": "Do",
         "grpc_code": code},
    )  # fmt: skip


def test_a_unary_call_is_ok_and_its_bytes_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "test.access")

    def reply(request: bytes, context: Any) -> bytes:
        return b"four"

    observed, registry = _observe(grpc.unary_unary_rpc_method_handler(reply))
    assert observed.unary_unary(b"12345", FakeContext()) == b"four"
    assert _handled(registry, "unary", "OK") == 1
    (line,) = [parse_logfmt(r.getMessage()) for r in caplog.records]
    assert (line["request_bytes"], line["response_bytes"]) == ("5", "4")


@pytest.mark.parametrize(
    ("context", "code"),
    [
        (FakeContext(), "UNKNOWN"),  # an exception without a code
        (FakeContext(grpc.StatusCode.PERMISSION_DENIED), "PERMISSION_DENIED"),  # abort()
        (FakeContext(active=False), "CANCELLED"),  # the call had already ended
    ],
)
def test_a_raising_call_gets_the_code_grpc_sends(context: FakeContext, code: str) -> None:
    def fail(request: bytes, context: Any) -> bytes:
        raise RuntimeError("boom")

    observed, registry = _observe(grpc.unary_unary_rpc_method_handler(fail))
    with pytest.raises(RuntimeError):
        observed.unary_unary(b"", context)
    assert _handled(registry, "unary", code) == 1
    assert _handled(registry, "unary", "OK") is None


def test_a_stream_counts_each_message_and_ends_once() -> None:
    def replies(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        for request in requests:
            yield request * 2

    observed, registry = _observe(grpc.stream_stream_rpc_method_handler(replies))
    out = observed.stream_stream(iter([b"a", b"b", b"c"]), FakeContext())
    assert _handled(registry, "bidi_stream", "OK") is None  # not before the stream ends
    assert list(out) == [b"aa", b"bb", b"cc"]
    assert _handled(registry, "bidi_stream", "OK") == 1
    labels = {"grpc_type": "bidi_stream", "grpc_service": "test.v1.Unknown", "grpc_method": "Do"}
    assert registry.get_sample_value("grpc_server_msg_sent_total", labels) == 3
