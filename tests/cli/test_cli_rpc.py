"""The CLI's connection: the default port, and message limits that follow the server's."""

from __future__ import annotations

from typing import Any

from cli.cli_support import Cli
from support import on_port_50051

from contextstore.units import MiB

RESOURCE_EXHAUSTED = 64 + 8


def test_a_target_without_a_port_means_port_50051(start_server: Any) -> None:
    server = on_port_50051(start_server)
    host = server.address.rsplit(":", 1)[0]

    Cli(host).ok("put", "where", stdin=b"here")

    # It reached this server, not some other one on 50051.
    assert Cli(server.address).ok("get", "where") == b"here"


def test_put_and_get_follow_the_servers_larger_message_limit(start_server: Any) -> None:
    # 30 MB is over the client library's default limit (17 MiB), under this server's.
    cli = Cli(start_server(max_content_bytes=64 * MiB).address)
    content = bytes(range(256)) * (30_000_000 // 256)

    cli.ok("put", "big", stdin=content)

    assert cli.ok("get", "big") == content
    assert cli.ok("get", "big", "big") == b"==> big <==\n" + content + b"\n==> big <==\n" + content


def test_the_message_limit_flag_is_the_clients_own(start_server: Any) -> None:
    cli = Cli(start_server(max_content_bytes=8 * MiB).address)

    err = cli.fails(
        "put", "p", "--max-message-bytes", "1MiB", stdin=b"x" * (2 * MiB), status=RESOURCE_EXHAUSTED
    )

    assert "RESOURCE_EXHAUSTED" in err
    assert "CLIENT: Sent message larger than max" in err  # refused before sending
    cli.ok("put", "p", "--max-message-bytes", "3MiB", stdin=b"x" * (2 * MiB))
    assert "must be more than 0" in cli.usage_error("info", "--max-message-bytes", "0")
