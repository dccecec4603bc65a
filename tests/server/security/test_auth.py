"""Every call authenticated and authorized: the rules of issue 11, through real servers.

Who a caller is (a token, a client certificate), what its role lets it call,
and where its scope lets it call it. Raw stubs send ``authorization: Bearer
...`` over plaintext loopback; the certificate cases use mTLS channels from
``tests/certs.py``. The service's edges (health, reflection, unknown methods),
what the interceptor tells others, and reloading are in ``test_auth_wiring.py``.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from certs import Pki
from server.security.secured import (
    DENIED,
    UNAUTHENTICATED,
    StartSecured,
    bearer,
    file,
    mtls,
)

from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

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
