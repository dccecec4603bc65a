"""Shared fixtures: a real server on a free port, and real clients to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from certs import Pki

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.store.base import Store
from contextstore.server.wiring import build_server

pytest_plugins = ["redis_fixtures"]  # real redis-server processes: tests/redis_fixtures.py

# Small enough that limit tests move little data, large enough for real use.
TEST_CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, max_content_bytes=1 << 20)

StartServer = Callable[..., Server]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A test CA with a server certificate for localhost and 127.0.0.1 (``tests/certs.py``)."""
    return Pki.make(tmp_path / "pki")


@pytest.fixture
def started() -> Iterator[Callable[[Server], Server]]:
    """Start ready-made servers; all are stopped after the test."""
    servers: list[Server] = []

    def start(server: Server) -> Server:
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace=0)


@pytest.fixture
def start_server(started: Callable[[Server], Server]) -> StartServer:
    """Start servers as ``serve`` builds them (wiring: TLS, auth, metrics when asked) from
    ``TEST_CONFIG`` with overrides, over ``store`` if given; all are stopped after the test."""

    def start(store: Store | None = None, **overrides: object) -> Server:
        config = dataclasses.replace(TEST_CONFIG, **overrides)  # type: ignore[arg-type]
        return started(build_server(config, store=store))

    return start


@pytest.fixture
def server(start_server: StartServer) -> Server:
    return start_server()


@pytest.fixture
def client(server: Server) -> Iterator[ContextStoreClient]:
    with ContextStoreClient(server.address, timeout=10) as c:
        yield c
