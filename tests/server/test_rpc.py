"""``contextstore.server.rpc``: one table from domain errors to statuses, for
unary and server-streaming methods alike, each status small enough to arrive."""

from __future__ import annotations

import base64
import inspect
import logging
from collections.abc import Iterator
from concurrent import futures
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from contextstore.client import ContextStoreClient, ServerError
from contextstore.server import errors
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.errors import ContextStoreError, FieldViolation, InvalidArgument
from contextstore.server.rpc import STATUS, rpc, to_status
from contextstore.server.store.base import Namespace
from contextstore.server.store.memory import StripedStore
from contextstore.server.wire import WireFile
from contextstore.v1 import context_store_pb2 as pb


def _every_error_class() -> list[type[ContextStoreError]]:
    found: list[type[ContextStoreError]] = []
    todo: list[type[ContextStoreError]] = [ContextStoreError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def _example(kind: type[ContextStoreError]) -> ContextStoreError:
    arguments = {
        "violations": [FieldViolation("path", "must not be empty")],
        "limit": "total_bytes",
        "description": "too big",
        "backend": "redis",
        "detail": "timed out",
        "unlisted": 0,
        "path": "src/a.py",
        "current_version": 7,
        "current_sha256": bytes(32),
        "start": 5,
        "oldest": 10,
        "current": 20,
    }
    if kind.__init__ is Exception.__init__:  # a plain message
        return kind("a message")
    wanted = inspect.signature(kind).parameters
    positional = [arguments[p] for p, v in wanted.items() if v.kind is not v.KEYWORD_ONLY]
    return kind(*positional)


def test_every_domain_error_defined_has_a_row() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, ContextStoreError)
    }
    assert defined - {ContextStoreError} <= set(STATUS)


@pytest.mark.parametrize("kind", _every_error_class()[1:], ids=lambda k: k.__name__)
def test_no_domain_error_reaches_the_caller_as_unknown_or_internal(
    kind: type[ContextStoreError],
) -> None:
    status = to_status(_example(kind))
    assert status.code not in (code_pb2.UNKNOWN, code_pb2.INTERNAL, code_pb2.OK)


def test_an_error_outside_the_table_is_our_bug_not_unknown() -> None:
    with pytest.raises(LookupError, match="Unlisted"):
        to_status(Unlisted("?"))


def test_backend_unavailable_is_retryable_and_names_the_backend() -> None:
    status = to_status(errors.BackendUnavailable("redis", "connection refused"))
    assert status.code == code_pb2.UNAVAILABLE
    assert "redis" in status.message and "connection refused" in status.message


# -- every status fits the trailers a client accepts --------------------------------

SOFT_TRAILER_LIMIT = 8 * 1024  # grpcio's default; between it and 16 KiB it may refuse
UNRESERVED = "".join(chr(c) for c in range(0x20, 0x7F) if c != ord("%"))


def trailer_bytes(status: status_pb2.Status) -> int:
    """Size of the trailers carrying ``status``, as HTTP/2 counts them (RFC 7540 6.5.2)."""
    fields = {
        "grpc-status": str(status.code),
        "grpc-message": quote(status.message, safe=UNRESERVED),
        "grpc-status-details-bin": base64.b64encode(status.SerializeToString()).decode(),
    }
    return sum(len(name) + len(value) + 32 for name, value in fields.items())


HUGE = "é%\x00" * 100_000  # every character percent-encoded: 1.3 MB as sent
WORST_CASES: list[ContextStoreError] = [
    InvalidArgument([FieldViolation(HUGE, HUGE)] * 20),
    # Plain ASCII costs the most in the detail: one byte sent per byte kept.
    InvalidArgument([FieldViolation("x" * 200, "y" * 200)] * 100_000),
    errors.NotFound(HUGE),
    errors.QuotaExceeded(HUGE, HUGE),
    errors.BackendUnavailable("redis", HUGE),
]


@pytest.mark.parametrize("error", WORST_CASES, ids=lambda e: type(e).__name__)
def test_every_status_fits_the_trailer_limit_whatever_it_carries(
    error: ContextStoreError,
) -> None:
    status = to_status(error)
    # A quarter of the limit to spare, for whatever else a server may add.
    assert trailer_bytes(status) < SOFT_TRAILER_LIMIT * 3 // 4
    assert status.message  # bounded, not dropped
    if isinstance(error, InvalidArgument):
        bad = error_details_pb2.BadRequest()
        assert status.details[0].Unpack(bad)
        assert len(bad.field_violations) == errors.LISTED_VIOLATIONS
        assert status.message.endswith(f"; and {error.more} more") and error.more >= 10


def test_a_short_status_is_untouched() -> None:
    error = InvalidArgument([FieldViolation("paths[0]", "must not be empty")])
    status = to_status(error)
    assert status.message == "paths[0]: must not be empty"
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("paths[0]", "must not be empty")
    ]


# -- a bug in a unary method, through the real server ------------------------------


class BrokenStore(StripedStore):
    """A store with a bug: every ``get_file`` raises."""

    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        raise RuntimeError("a bug of ours: secret detail")


def test_a_bug_in_a_unary_method_is_internal_not_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server(ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0), BrokenStore())
    server.start()
    try:
        with ContextStoreClient(server.address, timeout=10) as client:
            with (
                caplog.at_level(logging.ERROR, "contextstore.server"),
                pytest.raises(ServerError) as info,
            ):
                client.get_file("p")
            assert info.value.code == grpc.StatusCode.INTERNAL
            assert "secret detail" not in str(info.value)
            assert client.cache_file("p", b"x").size == 1  # the server carries on
    finally:
        server.stop(grace=0)
    (record,) = [r for r in caplog.records if "rpc_failed" in r.getMessage()]
    assert "method=GetFile" in record.getMessage() and record.exc_info is not None


# -- a server-streaming method, through a real server ------------------------------


class Unlisted(ContextStoreError):
    """A domain error someone forgot to give a row in ``STATUS``."""


class Streams:
    """A servicer with one server-streaming method, wrapped like ours."""

    def __init__(self) -> None:
        self.heard: list[ContextStoreError] = []

    def on_error(self, error: ContextStoreError) -> None:
        self.heard.append(error)

    @rpc
    def Watch(self, request: pb.GetFileRequest, context: Any) -> Iterator[pb.GetFileResponse]:
        yield pb.GetFileResponse(content=b"one")
        yield pb.GetFileResponse(content=b"two")
        if request.path == "bad":
            raise InvalidArgument([FieldViolation("path", "is bad")])
        if request.path == "bug":
            raise ValueError("a bug of ours")
        if request.path == "unlisted":
            raise Unlisted("no row")


@pytest.fixture
def watch() -> Iterator[tuple[Streams, Any]]:
    streams = Streams()
    handler = grpc.unary_stream_rpc_method_handler(
        streams.Watch,
        request_deserializer=pb.GetFileRequest.FromString,
        response_serializer=pb.GetFileResponse.SerializeToString,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.S", {"W": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_stream(
            "/t.S/W",
            request_serializer=pb.GetFileRequest.SerializeToString,
            response_deserializer=pb.GetFileResponse.FromString,
        )
        yield streams, call
    server.stop(0)


def test_a_stream_ends_with_the_mapped_status_after_what_it_sent(
    watch: tuple[Streams, Any],
) -> None:
    streams, call = watch
    got: list[bytes] = []
    with pytest.raises(grpc.RpcError) as failure:
        for response in call(pb.GetFileRequest(path="bad"), timeout=10):
            got.append(response.content)
    assert got == [b"one", b"two"]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(failure.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad) and bad.field_violations[0].field == "path"
    assert [type(e) for e in streams.heard] == [InvalidArgument]


@pytest.mark.parametrize("path", ["bug", "unlisted"])
def test_a_bug_in_a_stream_is_internal_without_its_trace(
    watch: tuple[Streams, Any], path: str
) -> None:
    _, call = watch
    with pytest.raises(grpc.RpcError) as failure:
        list(call(pb.GetFileRequest(path=path), timeout=10))
    assert failure.value.code() == grpc.StatusCode.INTERNAL
    assert "a bug of ours" not in (failure.value.details() or "")


def test_a_stream_that_ends_well_ends_ok(watch: tuple[Streams, Any]) -> None:
    _, call = watch
    assert [r.content for r in call(pb.GetFileRequest(path="ok"), timeout=10)] == [b"one", b"two"]
