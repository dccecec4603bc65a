"""Auth at the service's edges and in its wiring, through real servers.

Health and reflection, methods the rules do not name, what the interceptor
tells the interceptors and handlers inside it, and a tokens file edited while
the server runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from server.security.secured import (
    DENIED,
    TOKENS,
    UNAUTHENTICATED,
    StartSecured,
    bearer,
    file,
    identity,
)
from support import clean_env, console_script

from contextstore.server import callinfo
from contextstore.server.app import SERVICE_NAME
from contextstore.server.security import identities
from contextstore.server.security.auth import RULES, AuthInterceptor
from contextstore.server.security.identities import TokenFile
from contextstore.v1 import context_store_pb2 as pb

# -- health, reflection, unknown methods -------------------------------------------


def test_health_needs_no_credentials(secured: StartSecured) -> None:
    s = secured()

    reply = health_pb2_grpc.HealthStub(s.channel).Check(
        health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=10
    )

    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _list_services(channel: grpc.Channel, metadata: Any) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10)
    return [s.name for reply in replies for s in reply.list_services_response.service]


def test_reflection_needs_any_identity(secured: StartSecured) -> None:
    s = secured()

    with pytest.raises(grpc.RpcError) as raised:
        _list_services(s.channel, None)
    services = _list_services(s.channel, bearer("team-a-reader"))

    assert raised.value.code() == UNAUTHENTICATED
    assert SERVICE_NAME in services


def test_a_method_missing_from_the_table_is_denied_to_everyone(secured: StartSecured) -> None:
    get_file = f"/{SERVICE_NAME}/GetFile"
    rules = {m: role for m, role in RULES.items() if m != get_file}
    s = secured()
    tokens = TokenFile(str(s.tokens))
    s = secured(interceptors=[AuthInterceptor(tokens, rules=rules)])

    done = s.call("GetFile", pb.GetFileRequest(path="a.py"), "admin")
    stats = s.call("GetStats", pb.GetStatsRequest(), "admin")

    assert (done.code, stats.code) == (DENIED, grpc.StatusCode.OK)
    assert "no role is allowed GetFile on this server (fail closed)" in done.details


def test_every_method_of_the_service_has_a_role() -> None:
    service = pb.DESCRIPTOR.services_by_name["ContextStoreService"]

    assert set(RULES) == {f"/{SERVICE_NAME}/{m.name}" for m in service.methods}


# -- what the interceptor tells the others ------------------------------------------


class Opener(grpc.ServerInterceptor):
    """The observing interceptor's part: a CallInfo per call, recorded when it ends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        inner = handler.unary_unary or handler.stream_unary

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            info = callinfo.CallInfo(details.method)
            token = callinfo.CURRENT.set(info)
            try:
                return inner(request, context)
            finally:
                callinfo.CURRENT.reset(token)
                self.seen.append((info.method.rsplit("/", 1)[-1], info.identity))

        make = (
            grpc.stream_unary_rpc_method_handler
            if handler.request_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        return make(behavior, handler.request_deserializer, handler.response_serializer)


def test_the_identity_reaches_the_call_info_and_refusals_reach_the_hook(
    secured: StartSecured,
) -> None:
    refused: list[grpc.StatusCode] = []
    opener = Opener()
    first = secured()
    auth = AuthInterceptor(TokenFile(str(first.tokens)), on_refused=refused.append)
    s = secured(interceptors=[auth], outer_interceptors=[opener])

    s.call("GetStats", pb.GetStatsRequest(), "writer")
    s.call("GetStats", pb.GetStatsRequest(), "nobody")
    s.call("ClearSession", pb.ClearSessionRequest(), "reader")

    assert opener.seen == [("GetStats", "writer"), ("GetStats", ""), ("ClearSession", "reader")]
    assert refused == [UNAUTHENTICATED, DENIED]


def test_handlers_are_wrapped_once_per_method(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(TOKENS)
    auth = AuthInterceptor(TokenFile(str(path)))
    handler: grpc.RpcMethodHandler[Any, Any] = grpc.unary_unary_rpc_method_handler(
        lambda request, context: request
    )

    @dataclasses.dataclass
    class Details:
        method: str
        invocation_metadata: tuple[tuple[str, str | bytes], ...] = ()

    built = [
        auth.intercept_service(lambda d: handler, Details(f"/{SERVICE_NAME}/{m}"))
        for m in ("GetFile", "GetFile", "CacheFile")
    ]

    assert built[0] is built[1] and built[0] is not built[2] and built[0] is not handler


# -- reloading -------------------------------------------------------------------


def _touch(path: Path) -> None:
    """A new mtime, so an edit is seen even within the file system's clock tick."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def recheck_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tokens file looked at on every call, not once a second: no waiting in tests."""
    monkeypatch.setattr(identities, "RECHECK_SECONDS", 0.0)


@pytest.mark.usefixtures("recheck_every_call")
def test_an_edit_changes_who_may_call_without_a_restart(secured: StartSecured) -> None:
    s = secured(identity("reader", "read"))
    before = s.call("CacheFile", file("s"), "reader")

    s.tokens.write_text(identity("reader", "write"))
    _touch(s.tokens)
    after = s.call("CacheFile", file("s"), "reader")

    assert (before.code, after.code) == (DENIED, grpc.StatusCode.OK)


@pytest.mark.usefixtures("recheck_every_call")
def test_a_token_removed_from_the_file_is_refused_though_it_was_used_before(
    secured: StartSecured,
) -> None:
    s = secured(identity("reader", "read") + identity("other", "read"))
    before = [s.call("GetStats", pb.GetStatsRequest(session_id="s"), "reader") for _ in range(3)]

    s.tokens.write_text(identity("other", "read"))
    _touch(s.tokens)
    after = s.call("GetStats", pb.GetStatsRequest(session_id="s"), "reader")

    assert [b.code for b in before] == [grpc.StatusCode.OK] * 3
    assert after.code == UNAUTHENTICATED


@pytest.mark.usefixtures("recheck_every_call")
def test_a_broken_edit_keeps_the_old_table_and_logs_why(
    secured: StartSecured, caplog: pytest.LogCaptureFixture
) -> None:
    s = secured(identity("reader", "read"))

    s.tokens.write_text(identity("reader", "write").replace('"write"', "write"))  # line 4
    _touch(s.tokens)
    with caplog.at_level(logging.ERROR, logger="contextstore.server"):
        done = s.call("CacheFile", file("s"), "reader")

    assert "needs role write; has read" in done.details
    assert "event=auth_reload_failed" in caplog.text and "at line 4" in caplog.text


def test_serve_with_a_bad_tokens_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TOKENS + identity("root", "superuser"))
    line = TOKENS.count("\n") + 1

    done = subprocess.run(
        [console_script(), "serve", "--listen", "127.0.0.1:0", "--auth-tokens", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )

    assert done.returncode == 2
    assert done.stderr == (
        f"contextstore serve: {bad}, line {line}: identity #9: 'root': 'role' must be one of "
        f"read, write, admin, got 'superuser'\n"
    )
