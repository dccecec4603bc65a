"""A server whose store can hold a call in flight, for deadline tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from client.secure_servers import secure
from support import BlockingStore

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.store.base import Namespace
from contextstore.server.store.memory import StripedStore


class FailingStore(StripedStore):
    """A store with a bug: ``get_metadata_wire`` always raises."""

    def get_metadata_wire(self, ns: Namespace, path: str) -> bytes | None:
        raise RuntimeError("store bug")


def _serve(store: StripedStore) -> Iterator[Server]:
    server = Server(ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0), store)
    server.start()
    try:
        yield server
    finally:
        release = getattr(store, "release", None)
        if release is not None:
            release.set()  # never leave a server thread parked
        server.stop(grace=0)


@pytest.fixture
def blocking_server() -> Iterator[Server]:
    yield from _serve(BlockingStore())


@pytest.fixture
def blocking_store(blocking_server: Server) -> BlockingStore:
    """The store behind ``blocking_server``, to hold and release its calls."""
    store = blocking_server.store
    assert isinstance(store, BlockingStore)
    return store


@pytest.fixture
def failing_server() -> Iterator[Server]:
    yield from _serve(FailingStore())


@pytest.fixture
def dead_address() -> str:
    """An address nothing listens on: a port we bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


__all__ = ["secure"]  # TLS servers: client/secure_servers.py (their certificates: conftest pki)
