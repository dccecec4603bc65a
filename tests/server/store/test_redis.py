"""The Redis backend: the contract every backend keeps, on a standalone Redis and a Cluster.

Real ``redis-server`` processes (``tests/redis_fixtures.py``), shared by every
test: each store gets a key prefix of its own, so tests never see each
other's keys. What only this backend promises (servers sharing one Redis,
failures, function reloads, the layout) is tested below the contract.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from server.store.contract import Backend, StoreContract, fw

from contextstore.server.store.base import Budgets, Store
from contextstore.server.store.redis import RedisStore, Settings

_prefixes = itertools.count()


def redis_backend(url: str, opened: list[RedisStore]) -> Backend:
    def make(
        budgets: Budgets,
        *,
        timer: Callable[[], float] = time.time,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> Store:
        store = RedisStore(
            Settings(url, timeout_seconds=5.0, connections=32),
            key_prefix=f"test{next(_prefixes)}:{time.monotonic_ns()}:",
            budgets=budgets,
            timer=timer,
            wall_clock=wall_clock,
        )
        opened.append(store)
        return store

    return make


@pytest.fixture(params=["standalone", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    node = request.getfixturevalue(f"redis_{request.param}")
    return str(node.url)


@pytest.fixture
def opened() -> Iterator[list[RedisStore]]:
    stores: list[RedisStore] = []
    yield stores
    for store in stores:
        store.close()


class TestRedisBackend(StoreContract):
    @pytest.fixture
    def backend(self, redis_url: str, opened: list[RedisStore]) -> Backend:
        return redis_backend(redis_url, opened)


# -- what only the Redis backend promises ------------------------------------------


def test_recency_is_kept_only_under_a_budget_and_rebuilt_when_one_arrives(
    redis_standalone: Any,
) -> None:
    # Servers on one Redis may differ in budgets (a rolling change of settings):
    # entries written with no budget carry no recency, and count as the oldest
    # once a server with a budget must evict.
    prefix = f"recency{time.monotonic_ns()}:"
    settings = Settings(redis_standalone.url, timeout_seconds=5.0, connections=4)
    unbounded = RedisStore(settings, key_prefix=prefix, budgets=Budgets(session_ttl_seconds=0))
    bounded = RedisStore(
        settings, key_prefix=prefix, budgets=Budgets(session_entries=2, session_ttl_seconds=0)
    )
    try:
        for path in ("a", "b", "c"):
            unbounded.cache_file("s", fw(path, b"x"))
        assert not unbounded.client.exists(unbounded._layout.namespace("s").recency)
        bounded.cache_file("s", fw("new", b"x"))
        assert bounded.stats("s").files == 2 and bounded.stats("s").evictions == 2
        assert bounded.get_file("s", "new") is not None
    finally:
        unbounded.close()
        bounded.close()
