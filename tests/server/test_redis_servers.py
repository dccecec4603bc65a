"""Servers on the Redis backend: several share one cache, each says what it runs on.

Real servers on free ports over real ``redis-server`` processes (a standalone
Redis and a 3-primary Cluster, ``tests/redis_fixtures.py``), through the typed
client. Each test takes a key prefix of its own, so tests share the Redis
processes without seeing each other's keys.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server

_prefixes = itertools.count()
StartServer = Callable[..., Server]


@pytest.fixture(params=["standalone", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"redis_{request.param}").url)


@pytest.fixture
def two_servers(start_server: StartServer, redis_url: str) -> tuple[Server, Server]:
    prefix = f"servers{os.getpid()}-{next(_prefixes)}:"
    settings = {"backend": "redis", "redis_url": redis_url, "redis_key_prefix": prefix}
    return start_server(**settings), start_server(**settings)


def test_a_write_through_one_server_is_read_through_the_other(
    two_servers: tuple[Server, Server],
) -> None:
    a, b = two_servers
    with (
        ContextStoreClient(a.address, timeout=10) as ca,
        ContextStoreClient(b.address, timeout=10) as cb,
    ):
        written = ca.session("s").cache_file("src/app.py", b"print(1)\n", labels={"k": "v"})
        got = cb.session("s").get_file("src/app.py")
        assert got is not None and got.content == b"print(1)\n" and got.metadata == written
        assert cb.get_file("src/app.py") is None  # the global namespace is another one
        cb.session("s").cache_analysis("src/app.py", "ast", b"tree")
        assert ca.session("s").get_analysis("src/app.py", "ast") is not None
        ca.session("s").cache_file("src/app.py", b"print(2)\n")  # stale: drops the analysis
        assert cb.session("s").get_analysis("src/app.py", "ast") is None
        assert cb.session("s").invalidate_file("src/app.py").files == 1
        assert ca.session("s").get_file("src/app.py") is None
        stats_a, stats_b = ca.session("s").stats(), cb.session("s").stats()
        assert stats_a == stats_b and (stats_a.files, stats_a.hits, stats_a.misses) == (0, 2, 2)


def test_server_info_and_health_name_the_backend(two_servers: tuple[Server, Server]) -> None:
    server = two_servers[0]
    with ContextStoreClient(server.address, timeout=10) as client:
        info = client.server_info()
    assert info.backend == "redis"
    assert info.backend_properties["mode"] in {"standalone", "cluster"}
    assert info.backend_properties["key_prefix"] == server.config.redis_key_prefix
    with grpc.insecure_channel(server.address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert status.status == health_pb2.HealthCheckResponse.SERVING


def test_over_budget_namespaces_evict_the_same_through_every_server(
    start_server: StartServer, redis_url: str
) -> None:
    prefix = f"budget{os.getpid()}-{next(_prefixes)}:"
    settings = {"backend": "redis", "redis_url": redis_url, "redis_key_prefix": prefix}
    a = start_server(session_entries=2, **settings)
    b = start_server(session_entries=2, **settings)
    with (
        ContextStoreClient(a.address, timeout=10) as ca,
        ContextStoreClient(b.address, timeout=10) as cb,
    ):
        ca.session("s").cache_file("one", b"1")
        cb.session("s").cache_file("two", b"2")
        assert ca.session("s").get_file("one") is not None  # "two" is now the oldest
        cb.session("s").cache_file("three", b"3")
        assert ca.session("s").get_file("two") is None
        assert cb.session("s").stats().evictions == 1
