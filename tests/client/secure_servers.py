"""Real servers over TLS or mTLS that record and check the bearer token of every call.

The servers serve TLS as ``contextstore serve --tls-cert --tls-key
[--tls-client-ca]`` does (``wiring.credentials``). Until the auth interceptor
is on main, the clients' tests see what a client sends through a
test-only ``Gate`` interceptor instead: it records each call's ``authorization``
header and, given a table of tokens, refuses calls the way the real auth
interceptor does (UNAUTHENTICATED for a missing or unknown token,
PERMISSION_DENIED for a method the token's holder may not call).

    gate = Gate({"w-token": None, "r-token": frozenset({"GetFile"})})
    with secure_servers() as start:
        server = start(pki, gate=gate, mtls=True)
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from certs import Pki

from contextstore.server import wiring
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, max_content_bytes=1 << 20)


class Gate(grpc.ServerInterceptor):
    """Records ``(method, authorization)`` of each call; with ``tokens``, enforces them.

    ``tokens`` maps a token to the method names it may call (``None``: all).
    """

    def __init__(self, tokens: Mapping[str, frozenset[str] | None] | None = None) -> None:
        self.tokens = tokens
        self.seen: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def bearers(self) -> set[str | None]:
        """Every distinct ``authorization`` value the service saw (``None``: no header)."""
        with self._lock:
            return {header for method, header in self.seen if "ContextStore" in method}

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        header = dict(details.invocation_metadata or ()).get("authorization")
        method: str = details.method or ""
        with self._lock:
            self.seen.append((method, None if header is None else str(header)))
        refusal = self._refusal(method, header)
        if refusal is None:
            return continuation(details)
        code, message = refusal

        def refuse(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(code, message)

        return grpc.unary_unary_rpc_method_handler(refuse)

    def _refusal(self, method: str, header: Any) -> tuple[grpc.StatusCode, str] | None:
        if self.tokens is None or "ContextStore" not in method:
            return None
        token = str(header).removeprefix("Bearer ") if header else None
        if token is None or token not in self.tokens:
            return grpc.StatusCode.UNAUTHENTICATED, "no identity matches the credentials sent"
        allowed = self.tokens[token]
        name = method.rpartition("/")[2]
        if allowed is not None and name not in allowed:
            return grpc.StatusCode.PERMISSION_DENIED, f"this token may not call {name}"
        return None


def _with_tls(config: ServerConfig, pki: Pki | None, *, mtls: bool) -> ServerConfig:
    if pki is None:
        return config
    client_ca = str(pki.ca_file) if mtls else ""
    return dataclasses.replace(
        config, tls_cert=str(pki.server.cert), tls_key=str(pki.server.key), tls_client_ca=client_ca
    )


@contextmanager
def secure_servers() -> Iterator[Callable[..., Server]]:
    """``start(pki, gate=, mtls=, listen=)``: TLS servers, all stopped on exit."""
    started: list[Server] = []

    def start(
        pki: Pki | None, *, gate: Gate | None = None, mtls: bool = False,
        listen: str = "127.0.0.1:0",
    ) -> Server:  # fmt: skip
        config = _with_tls(dataclasses.replace(CONFIG, listen=listen), pki, mtls=mtls)
        server = Server(
            config,
            interceptors=[gate] if gate is not None else [],
            credentials=wiring.credentials(config),  # the server's own TLS, from its settings
        )
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop(grace=0)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.make(tmp_path / "pki")


@pytest.fixture
def secure() -> Iterator[Callable[..., Server]]:
    with secure_servers() as start:
        yield start
