"""The CLI's ``--target`` as a list of servers: balanced, default port per address, checked."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest
from cli.cli_support import Cli
from support import on_port_50051

from contextstore.cli.rpc import Connection, RpcFailure
from contextstore.client import ContextStoreClient
from contextstore.client import _calls as calls
from contextstore.server.app import Server

StartServer = Callable[..., Server]
INVALID_ARGUMENT = 3


def _stats(server: Server) -> tuple[int, int]:
    """The server's own (files, misses)."""
    with ContextStoreClient(server.address, timeout=10) as client:
        stats = client.store_stats()
        return stats.files, stats.misses


def test_the_connection_takes_turns_over_a_list(start_server: StartServer) -> None:
    # The channel a command runs its calls on; a command makes one or two calls,
    # so 40 of them on one connection show where they go.
    a, b = start_server(), start_server()
    with Connection(f"{a.address},{b.address}", timeout=10, max_message_bytes=None) as conn:
        for i in range(40):
            with pytest.raises(RpcFailure) as missed:
                conn.run(calls.get_metadata(None, f"missing/{i}"))
            assert missed.value.code == grpc.StatusCode.NOT_FOUND

    assert _stats(a)[1] > 0 and _stats(b)[1] > 0


def test_each_address_of_a_list_gets_port_50051_when_it_has_none(
    start_server: StartServer, dead_target: str
) -> None:
    live = on_port_50051(start_server)
    host = live.address.rsplit(":", 1)[0]

    # The dead address comes first: the write lands on the live one, found at 50051.
    Cli(f"{dead_target},{host}").ok("put", "where", stdin=b"here")

    assert _stats(live)[0] == 1


def test_a_list_grpc_cannot_read_is_a_usage_error_naming_the_flag() -> None:
    cli = Cli("localhost:50051,localhost:50052")

    err = cli.usage_error("info")

    assert err.startswith("contextstore info: --target: 'localhost' in target")
    assert "dns:///NAME:PORT" in err
    as_json = json.loads(cli.usage_error("info", "--json"))
    assert as_json["code"] == INVALID_ARGUMENT
    assert "not an IP address" in as_json["message"]
