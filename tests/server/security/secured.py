"""Servers wired with ``--auth-tokens`` for the auth tests: identities, raw calls, mTLS channels.

Each token identity's token is its name; ``Secured.call`` sends it as
``authorization: Bearer`` over plaintext loopback, and ``mtls`` makes
channels with client certificates from ``tests/certs.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import grpc
from certs import Pki

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.security.identities import token_digest
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


def mtls(pki: Pki, server: Server, who: str, *, ca: Pki | None = None) -> grpc.Channel:
    pair = (ca or pki).client(who)
    credentials = grpc.ssl_channel_credentials(pki.ca_bytes, pair.key_bytes, pair.cert_bytes)
    return grpc.secure_channel(server.address, credentials)


def file(session: str, path: str = "a.py", content: bytes = b"x") -> pb.CacheFileRequest:
    return pb.CacheFileRequest(session_id=session, path=path, content=content)
