"""Fixtures of the CLI's tests: the command aimed at a real server, and a dead address."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from cli.cli_support import Cli
from client.secure_servers import secure

from contextstore.server.app import Server


@pytest.fixture
def cli(server: Server) -> Cli:
    return Cli(server.address)


@pytest.fixture
def dead_target() -> Iterator[str]:
    """An address that refuses connections: bound, so nobody else takes it, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


__all__ = ["secure"]  # TLS servers: client/secure_servers.py (their certificates: conftest pki)
