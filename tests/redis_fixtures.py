"""Real redis-server processes for tests (``devtools.redis_nodes``), imported by conftest.

The session-scoped ``redis_standalone`` and ``redis_cluster`` are shared by every test that
asks for them: a test keeps to keys of its own (a key prefix unique to it) and never runs
FLUSHALL, kills a node or reshards there. A test that does breaks things on purpose asks for
``redis_cluster_private``, a cluster of its own for that test alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.redis_nodes import RedisCluster, RedisNode, start_cluster, start_standalone


@pytest.fixture(scope="session")
def redis_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisNode]:
    with start_standalone(tmp_path_factory.mktemp("redis-standalone")) as node:
        yield node


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    with start_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    with start_cluster(tmp_path_factory.mktemp("redis-cluster-private")) as cluster:
        yield cluster
