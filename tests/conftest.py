"""Shared fixtures: a real server on a free port, and real clients to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

pytest_plugins = ["redis_fixtures"]  # real redis-server processes: tests/redis_fixtures.py

# Small enough that limit tests move little data, large enough for real use.
TEST_CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, max_content_bytes=1 << 20)

StartServer = Callable[..., Server]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start servers with config overrides; all are stopped after the test."""
    started: list[Server] = []

    def start(**overrides: object) -> Server:
        server = Server(dataclasses.replace(TEST_CONFIG, **overrides))  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace=0)


@pytest.fixture
def server(start_server: StartServer) -> Server:
    return start_server()


@pytest.fixture
def client(server: Server) -> Iterator[ContextStoreClient]:
    with ContextStoreClient(server.address, timeout=10) as c:
        yield c
