"""One client, several servers: calls spread over every address of the target.

Each server counts its own misses, so a miss on both servers proves that
calls from one client reached both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from contextstore.client import AsyncContextStoreClient, ContextStoreClient
from contextstore.server.app import Server

CALLS = 100


def _misses(server: Server) -> int:
    with ContextStoreClient(server.address, timeout=10) as client:
        return client.store_stats().misses


@pytest.fixture
def two(start_server: Callable[..., Server]) -> tuple[Server, Server]:
    return start_server(), start_server()


def test_the_blocking_client_balances_over_a_list(two: tuple[Server, Server]) -> None:
    a, b = two
    with ContextStoreClient(f"{a.address},{b.address}", timeout=10) as client:
        for i in range(CALLS):
            assert client.get_file(f"missing/{i}") is None

    assert _misses(a) > 0 and _misses(b) > 0
    assert _misses(a) + _misses(b) == CALLS


def test_the_async_client_balances_over_a_list(two: tuple[Server, Server]) -> None:
    a, b = two

    async def main() -> None:
        async with AsyncContextStoreClient(f"{a.address},{b.address}", timeout=10) as client:
            for i in range(CALLS):
                assert await client.get_file(f"missing/{i}") is None

    asyncio.run(main())

    assert _misses(a) > 0 and _misses(b) > 0
    assert _misses(a) + _misses(b) == CALLS


def test_a_server_that_is_down_is_passed_over(server: Server, dead_address: str) -> None:
    # Writes are not retried by the channel: each one succeeds only because
    # round_robin picks among the connected servers.
    with ContextStoreClient(f"{dead_address},{server.address}", timeout=10) as client:
        for i in range(10):
            client.cache_file(f"f{i}", b"x")

    with ContextStoreClient(server.address, timeout=10) as client:
        assert client.store_stats().files == 10


def test_a_list_grpc_could_not_read_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        ContextStoreClient("localhost:50051,localhost:50052")
    with pytest.raises(ValueError, match="mixes IPv4 and IPv6"):
        AsyncContextStoreClient("127.0.0.1:1,[::1]:2")
