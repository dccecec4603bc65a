"""Every call authenticated and authorized: the rules of issue 11, through real servers.

Raw stubs send ``authorization: Bearer ...`` over plaintext loopback; the
certificate cases use mTLS channels from ``tests/certs.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest
from certs import Pki
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from support import clean_env, console_script

from contextstore.server import callinfo
from contextstore.server.app import SERVICE_NAME, Server
from contextstore.server.config import ServerConfig
from contextstore.server.security import identities
from contextstore.server.security.auth import RULES, AuthInterceptor
from contextstore.server.security.identities import TokenFile, token_digest
from contextstore.server.wiring import interceptors
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=0)
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


def identity(name: str, role: str, *, scope: list[str] | None = None, cert: str = "") -> str:
    match = f'cert_subject = "{cert}"' if cert else f'token_sha256 = "{token_digest(name)}"'
    scoped = f"scope = {scope!r}".replace("'", '"') if scope is not None else ""
    return f'[[identity]]\nname = "{name}"\n{match}\nrole = "{role}"\n{scoped}\n'


# Each token identity's token is its name.
TOKENS = "".join(
    [
        identity("admin", "admin"),
        identity("writer", "write"),
        identity("reader", "read"),
        identity("team-a-reader", "read", scope=["team-a/"]),
        identity("team-a-writer", "write", scope=["team-a/", "shared/"]),
        identity("team-a-admin", "admin", scope=["team-a/"]),
        identity("agent-7", "write", cert="agent-7"),
        identity("san-agent", "read", cert="san.example"),
    ]
)


def bearer(token: str, scheme: str = "Bearer") -> tuple[tuple[str, str | bytes], ...]:
    return (("authorization", f"{scheme} {token}"),)


class Call(NamedTuple):
    code: grpc.StatusCode
    details: str
    response: Any


@dataclasses.dataclass
class Secured:
    server: Server
    channel: grpc.Channel
    tokens: Path

    @property
    def stub(self) -> pb_grpc.ContextStoreServiceStub:
        return pb_grpc.ContextStoreServiceStub(self.channel)

    def call(self, method: str, request: Any, token: str | None = None) -> Call:
        """``method`` of our service with ``token`` (None: no authorization header)."""
        metadata = bearer(token) if token is not None else None
        try:
            response = getattr(self.stub, method)(request, metadata=metadata, timeout=10)
            return Call(grpc.StatusCode.OK, "", response)
        except grpc.RpcError as error:
            return Call(error.code(), error.details() or "", None)

    def ok(self, method: str, request: Any, token: str) -> Any:
        done = self.call(method, request, token)
        assert done.code == grpc.StatusCode.OK, done
        return done.response


StartSecured = Callable[..., Secured]


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[StartSecured]:
    """Servers wired with ``--auth-tokens`` (and mTLS when ``pki`` is given)."""
    started: list[Secured] = []

    def start(text: str = TOKENS, *, pki: Pki | None = None, **parts: Any) -> Secured:
        tokens = tmp_path / f"tokens-{len(started)}.toml"
        tokens.write_text(text)
        config = dataclasses.replace(CONFIG, auth_tokens=str(tokens))
        parts.setdefault("interceptors", interceptors(config))
        if pki is not None:
            parts["credentials"] = grpc.ssl_server_credentials(
                [(pki.server.key_bytes, pki.server.cert_bytes)],
                root_certificates=pki.ca_bytes,
                require_client_auth=True,
            )
        server = Server(config, **parts)
        server.start()
        channel = grpc.insecure_channel(server.address)
        started.append(Secured(server, channel, tokens))
        return started[-1]

    yield start
    for s in started:
        s.channel.close()
        s.server.stop(grace=0)


def mtls(pki: Pki, server: Server, who: str, *, ca: Pki | None = None) -> grpc.Channel:
    pair = (ca or pki).client(who)
    credentials = grpc.ssl_channel_credentials(pki.ca_bytes, pair.key_bytes, pair.cert_bytes)
    return grpc.secure_channel(server.address, credentials)


def file(session: str, path: str = "a.py", content: bytes = b"x") -> pb.CacheFileRequest:
    return pb.CacheFileRequest(session_id=session, path=path, content=content)


# -- authentication --------------------------------------------------------------


def test_a_call_without_credentials_is_unauthenticated(secured: StartSecured) -> None:
    s = secured()

    done = s.call("GetFile", pb.GetFileRequest(path="a.py"))

    assert done.code == UNAUTHENTICATED
    assert "no credentials" in done.details


@pytest.mark.parametrize(
    "header",
    # "admin" is a known token: only the scheme is wrong in the last three
    ["Bearer not-a-known-token", "Bearer ", "Bearer  ", "Basic admin", "Token admin", "admin"],
)
def test_an_unknown_or_malformed_token_is_unauthenticated(
    secured: StartSecured, header: str
) -> None:
    s = secured()

    with pytest.raises(grpc.RpcError) as raised:
        s.stub.GetFile(pb.GetFileRequest(path="a.py"), metadata=(("authorization", header),))

    assert raised.value.code() == UNAUTHENTICATED


def test_the_bearer_scheme_is_case_insensitive(secured: StartSecured) -> None:
    s = secured()

    response = s.stub.GetStats(pb.GetStatsRequest(), metadata=bearer("admin", "bearer"))

    assert response.files == 0


def test_a_client_certificate_selects_its_identity_by_cn_or_san(
    secured: StartSecured, pki: Pki
) -> None:
    s = secured(pki=pki)
    san_only = pki.issue("san.example", common_name="someone-else", stem="san")
    san_channel = grpc.secure_channel(
        s.server.address,
        grpc.ssl_channel_credentials(pki.ca_bytes, san_only.key_bytes, san_only.cert_bytes),
    )

    with mtls(pki, s.server, "agent-7") as agent, san_channel:
        stub = pb_grpc.ContextStoreServiceStub(agent)
        stub.CacheFile(file("s1"), timeout=10)  # agent-7 writes
        reader = pb_grpc.ContextStoreServiceStub(san_channel)
        found = reader.GetFile(pb.GetFileRequest(session_id="s1", path="a.py"), timeout=10)
        with pytest.raises(grpc.RpcError) as raised:
            reader.CacheFile(file("s1"), timeout=10)  # san-agent only reads

    assert found.content == b"x"
    assert raised.value.code() == DENIED
    assert "'san-agent'" in (raised.value.details() or "")


def test_an_unknown_token_is_unauthenticated_even_beside_a_valid_certificate(
    secured: StartSecured, pki: Pki
) -> None:
    s = secured(pki=pki)

    with mtls(pki, s.server, "agent-7") as agent:
        stub = pb_grpc.ContextStoreServiceStub(agent)
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetFile(
                pb.GetFileRequest(path="a.py"),
                metadata=bearer("stolen"),
                timeout=10,
            )

    assert raised.value.code() == UNAUTHENTICATED
    assert "token is not known" in (raised.value.details() or "")


def test_a_known_token_beside_a_certificate_selects_the_tokens_identity(
    secured: StartSecured, pki: Pki
) -> None:
    s = secured(pki=pki)

    with mtls(pki, s.server, "agent-7") as agent:  # agent-7 may write; reader may not
        stub = pb_grpc.ContextStoreServiceStub(agent)
        with pytest.raises(grpc.RpcError) as raised:
            stub.CacheFile(file("s1"), metadata=bearer("reader"), timeout=10)

    assert raised.value.code() == DENIED
    assert "'reader'" in (raised.value.details() or "")


def test_a_certificate_no_identity_names_is_unauthenticated(
    secured: StartSecured, pki: Pki
) -> None:
    s = secured(pki=pki)

    with mtls(pki, s.server, "agent-8") as stranger, pytest.raises(grpc.RpcError) as raised:
        pb_grpc.ContextStoreServiceStub(stranger).GetFile(pb.GetFileRequest(), timeout=10)

    assert raised.value.code() == UNAUTHENTICATED
    assert "agent-8" in (raised.value.details() or "")


# -- roles -----------------------------------------------------------------------

WRITES: list[tuple[str, Any]] = [
    ("CacheFile", file("team-a/1")),
    ("CacheAnalysis", pb.CacheAnalysisRequest(session_id="team-a/1", path="a.py",
                                              analysis_type="lint", result=b"r")),
    ("InvalidateFile", pb.InvalidateFileRequest(session_id="team-a/1", path="a.py")),
    ("InvalidateAnalysis", pb.InvalidateAnalysisRequest(session_id="team-a/1", path="a.py")),
    ("ClearSession", pb.ClearSessionRequest(session_id="team-a/1")),
    ("BatchCacheFiles", pb.BatchCacheFilesRequest(
        session_id="team-a/1", files=[pb.FileUpload(path="b.py", content=b"y")])),
]  # fmt: skip


@pytest.mark.parametrize(("method", "request_"), WRITES, ids=[m for m, _ in WRITES])
def test_a_read_identity_may_not_write_and_nothing_changes(
    secured: StartSecured, method: str, request_: Any
) -> None:
    s = secured()
    s.ok("CacheFile", file("team-a/1"), "admin")
    s.ok("CacheAnalysis", WRITES[1][1], "admin")

    done = s.call(method, request_, "team-a-reader")

    assert done.code == DENIED
    assert done.details == (
        f"identity 'team-a-reader' may not call {method} on session 'team-a/1': "
        f"needs role write; has read"
    )
    stats = s.ok("GetStats", pb.GetStatsRequest(session_id="team-a/1"), "admin")
    assert (stats.files, stats.analyses) == (1, 1)


def test_get_store_stats_needs_an_unscoped_admin(secured: StartSecured) -> None:
    s = secured()
    s.ok("CacheFile", file("x"), "writer")

    refused = {
        who: s.call("GetStoreStats", pb.GetStoreStatsRequest(), who).details
        for who in ("reader", "writer", "team-a-admin")
    }
    stats = s.ok("GetStoreStats", pb.GetStoreStatsRequest(), "admin")

    assert stats.files == 1
    assert refused == {
        "reader": "identity 'reader' may not call GetStoreStats: needs role admin; has read",
        "writer": "identity 'writer' may not call GetStoreStats: needs role admin; has write",
        "team-a-admin": "identity 'team-a-admin' may not call GetStoreStats: it is scoped to "
        "team-a/ and GetStoreStats covers the whole store (an admin without a scope may call it)",
    }


def test_an_unscoped_write_identity_works_in_the_global_namespace(secured: StartSecured) -> None:
    s = secured()

    s.ok("CacheFile", file(""), "writer")
    found = s.ok("GetFile", pb.GetFileRequest(path="a.py"), "writer")

    assert found.content == b"x"


# -- scopes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("session", "lacks"),
    [
        ("team-b/1", "session 'team-b/1' is outside its scope team-a/, shared/"),
        ("team-a", "session 'team-a' is outside its scope team-a/, shared/"),
        ("", "the global namespace is outside its scope team-a/, shared/"),
    ],
)
def test_a_scoped_identity_may_not_leave_its_scope(
    secured: StartSecured, session: str, lacks: str
) -> None:
    s = secured()

    done = s.call("CacheFile", file(session), "team-a-writer")

    where = f"session '{session}'" if session else "the global namespace"
    assert (done.code, done.details) == (
        DENIED,
        f"identity 'team-a-writer' may not call CacheFile on {where}: {lacks}",
    )
    assert s.ok("GetStoreStats", pb.GetStoreStatsRequest(), "admin").files == 0


def test_an_absent_session_id_is_the_global_namespace_for_scopes(secured: StartSecured) -> None:
    s = secured()

    done = s.call("GetStats", pb.GetStatsRequest(), "team-a-reader")

    assert done.code == DENIED and "the global namespace" in done.details


def test_a_scoped_get_stats_covers_only_its_session(secured: StartSecured) -> None:
    s = secured()
    s.ok("CacheFile", file("team-a/1", "a.py"), "admin")
    s.ok("CacheFile", file("team-b/1", "b.py"), "admin")
    s.ok("CacheFile", file("team-b/1", "c.py"), "admin")

    stats = s.ok("GetStats", pb.GetStatsRequest(session_id="team-a/1"), "team-a-reader")

    assert (stats.files, stats.sessions) == (1, 1)


def test_a_scoped_identity_works_inside_its_scope_and_reads_server_info(
    secured: StartSecured,
) -> None:
    s = secured()

    s.ok("CacheFile", file("shared/x"), "team-a-writer")
    found = s.ok("GetFile", pb.GetFileRequest(session_id="shared/x", path="a.py"), "team-a-writer")
    info = s.ok("GetServerInfo", pb.GetServerInfoRequest(), "team-a-reader")

    assert found.content == b"x"
    assert info.limits.max_session_id_bytes > 0


def test_a_denied_read_says_the_same_whether_the_file_exists_or_not(
    secured: StartSecured,
) -> None:
    s = secured()
    s.ok("CacheFile", file("team-b/1", "there.py"), "admin")

    there, missing = (
        s.call("GetFile", pb.GetFileRequest(session_id="team-b/1", path=p), "team-a-reader")
        for p in ("there.py", "gone.py")
    )

    assert there.code == missing.code == DENIED
    assert there.details == missing.details


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
