"""The ``secured`` fixture: servers with a tokens file (and mTLS when asked), stopped after."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from certs import Pki
from server.security.secured import CONFIG, TOKENS, Secured, StartSecured

from contextstore.server.app import Server
from contextstore.server.wiring import interceptors


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
