"""``listen.probe`` and ``Server.start``: a taken or unusable address is one clear OSError.

Each case holds the address with a real socket (or a real server) and checks
what the probe says, and that ``Server`` says the same before grpcio is asked.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.listen import AddressInUse, probe


@pytest.fixture
def held_tcp() -> Iterator[str]:
    """An address another (listening) socket holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield f"127.0.0.1:{holder.getsockname()[1]}"


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A unix socket path must fit in 108 bytes; pytest's tmp_path may not.
    return Path(tmp_path_factory.mktemp("s", numbered=True))


def _unix_config(path: Path | str) -> ServerConfig:
    return ServerConfig(listen=f"unix:{path}", grace_seconds=0)


def test_a_port_another_socket_holds(held_tcp: str) -> None:
    with pytest.raises(AddressInUse, match=f"^address already in use: {held_tcp}$"):
        probe(held_tcp)


def test_a_port_bound_but_not_listening_is_taken_too() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{holder.getsockname()[1]}"

        with pytest.raises(AddressInUse, match=f"^address already in use: {address}$"):
            probe(address)


def test_server_start_refuses_a_held_port_before_grpcio_sees_it(held_tcp: str) -> None:
    server = Server(ServerConfig(listen=held_tcp, grace_seconds=0))
    try:
        with pytest.raises(AddressInUse, match=f"^address already in use: {held_tcp}$"):
            server.start()
        assert server.port == 0  # grpcio was never asked
    finally:
        server.stop(0)


def test_a_free_port_and_port_0_pass() -> None:
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        free = f"127.0.0.1:{finder.getsockname()[1]}"
    probe(free)  # released above: free again (SO_REUSEADDR, as gRPC binds)
    probe("127.0.0.1:0")


def test_an_unresolvable_host() -> None:
    with pytest.raises(OSError, match=r"could not listen on no-such-host\.invalid:5000: cannot re"):
        probe("no-such-host.invalid:5000")


def test_a_unix_socket_a_live_server_holds(short_tmp: Path) -> None:
    first = Server(_unix_config(short_tmp / "cs.sock"))
    first.start()
    try:
        # gRPC would unlink the live server's socket and take its path; refuse instead.
        second = Server(_unix_config(short_tmp / "cs.sock"))
        with pytest.raises(
            AddressInUse, match=f"^address already in use: unix:{short_tmp}/cs.sock$"
        ):
            second.start()
        second.stop(0)
        with ContextStoreClient(first.address, timeout=10) as client:
            assert client.store_stats().files == 0  # the first still serves on its path
    finally:
        first.stop(0)


def test_a_stale_unix_socket_is_taken_over(short_tmp: Path) -> None:
    path = short_tmp / "stale.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))  # the file stays, nobody accepts on it

    probe(f"unix:{path}")  # as gRPC will: it removes a stale socket file and binds anew
    server = Server(_unix_config(path))
    server.start()
    try:
        with ContextStoreClient(server.address, timeout=10) as client:
            assert client.store_stats().files == 0
    finally:
        server.stop(0)


def test_a_unix_path_that_is_a_regular_file(short_tmp: Path) -> None:
    path = short_tmp / "file"
    path.write_text("not a socket")

    with pytest.raises(AddressInUse, match=r"address already in use: unix:.*\(a file that is not"):
        probe(f"unix:{path}")
    assert path.read_text() == "not a socket"


def test_a_unix_path_in_a_missing_directory(short_tmp: Path) -> None:
    with pytest.raises(OSError, match=f"no such directory: {short_tmp}/missing$"):
        probe(f"unix://{short_tmp}/missing/cs.sock")


def test_an_abstract_unix_name_another_socket_holds() -> None:
    name = f"contextstore-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX) as holder:
        holder.bind("\0" + name)
        with pytest.raises(AddressInUse, match=f"^address already in use: unix-abstract:{name}$"):
            probe(f"unix-abstract:{name}")
    probe(f"unix-abstract:{name}")  # released


def test_address_of_a_unix_server_is_its_socket(short_tmp: Path) -> None:
    server = Server(_unix_config(short_tmp / "a.sock"))
    server.start()
    try:
        assert server.address == f"unix:{short_tmp}/a.sock"
        with ContextStoreClient(server.address, timeout=10) as client:
            client.cache_file("x", b"1")
            assert client.store_stats().files == 1
    finally:
        server.stop(0)


def test_address_of_a_tcp_server_has_the_bound_port() -> None:
    server = Server(ServerConfig(listen="127.0.0.1:0", grace_seconds=0))
    server.start()
    try:
        host, port = server.address.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) == server.port > 0
    finally:
        server.stop(0)
