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
import hashlib
import json
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


def tokens_file(path: Path, identities: Mapping[str, tuple[str, str, list[str] | None]]) -> Path:
    """A ``--auth-tokens`` file: ``{name: (token or "cert:SUBJECT", role, scope)}``."""
    lines = []
    for name, (secret, role, scope) in identities.items():
        lines += ["[[identity]]", f'name = "{name}"', f'role = "{role}"']
        if secret.startswith("cert:"):
            lines.append(f'cert_subject = "{secret.removeprefix("cert:")}"')
        else:
            lines.append(f'token_sha256 = "{hashlib.sha256(secret.encode()).hexdigest()}"')
        if scope is not None:
            lines.append(f"scope = {json.dumps(scope)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _with_tls(config: ServerConfig, pki: Pki | None, *, mtls: bool) -> ServerConfig:
    if pki is None:
        return config
    client_ca = str(pki.ca_file) if mtls else ""
    return dataclasses.replace(
        config, tls_cert=str(pki.server.cert), tls_key=str(pki.server.key), tls_client_ca=client_ca
    )


@contextmanager
def secure_servers() -> Iterator[Callable[..., Server]]:
    """``start(pki, gate=, mtls=, listen=, auth_tokens=)``: TLS servers, stopped on exit.

    ``auth_tokens`` is a tokens file for the server's real auth (``tokens_file``).
    """
    started: list[Server] = []

    def start(
        pki: Pki | None, *, gate: Gate | None = None, mtls: bool = False,
        listen: str = "127.0.0.1:0", auth_tokens: Path | None = None,
    ) -> Server:  # fmt: skip
        config = _with_tls(dataclasses.replace(CONFIG, listen=listen), pki, mtls=mtls)
        if auth_tokens is not None:
            config = dataclasses.replace(config, auth_tokens=str(auth_tokens))
        server = Server(
            config,
            # The gate first: it sees what was sent, before the real auth refuses it.
            interceptors=[*([gate] if gate is not None else []), *wiring.interceptors(config)],
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
def secure() -> Iterator[Callable[..., Server]]:
    with secure_servers() as start:
        yield start
