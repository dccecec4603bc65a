"""The Redis backend's lean call path (``lean``): bounded, self-healing, and cluster-aware."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis.exceptions as rx

from contextstore.server.store.base import FileWrite
from contextstore.server.store.redis import RedisStore, Settings
from contextstore.server.store.redis.lean import LeanPool, call


@pytest.fixture
def pool(redis_standalone: Any) -> Iterator[LeanPool]:
    made = LeanPool.from_url(redis_standalone.url, max_connections=2, timeout=0.05)
    yield made
    made.disconnect()


def test_the_pool_hands_out_at_most_max_connections_and_reuses_the_last_returned(
    pool: LeanPool,
) -> None:
    first, second = pool.get_connection(), pool.get_connection()
    assert first is not second
    with pytest.raises(rx.ConnectionError, match="No connection available"):
        pool.get_connection()
    pool.release(first)
    again = pool.get_connection()
    assert again is first  # last in, first out: few connections stay warm
    pool.release(again)
    pool.release(second)


def test_an_error_reply_raises_and_leaves_the_connection_usable(pool: LeanPool) -> None:
    assert call(pool, ("CLIENT", "SETNAME", "kept")) == b"OK"
    with pytest.raises(rx.ResponseError, match="Function not found"):
        call(pool, ("FCALL", "no_such_function", 0))
    # The same connection, never closed: it still bears its name.
    assert call(pool, ("CLIENT", "GETNAME")) == b"kept"


def _store(url: str, prefix: str) -> RedisStore:
    return RedisStore(Settings(url, timeout_seconds=5.0, connections=2), key_prefix=prefix)


def test_a_connection_redis_closed_while_idle_is_opened_again_before_use(
    redis_standalone: Any,
) -> None:
    store = _store(redis_standalone.url, f"lean{time.monotonic_ns()}:")
    client: Any = store.client
    client.connection_pool.recheck_after = 0.0  # idle long enough: checked at once
    try:
        store.cache_file("s", FileWrite("a.py", b"before"))
        with redis_standalone.client() as admin:  # as a Redis restart or a timeout would
            assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
        found = store.get_file("s", "a.py")
        assert found is not None and found.content == b"before"
    finally:
        store.close()


def test_a_connection_redis_closed_just_after_its_last_use_is_retried_once(
    redis_standalone: Any,
) -> None:
    # Too recent for the idle check (as in figure R4, whose memory reading kills every
    # other client): the call finds the connection closed and makes it again, once.
    store = _store(redis_standalone.url, f"lean{time.monotonic_ns()}:")
    client: Any = store.client
    client.connection_pool.recheck_after = 3600.0
    try:
        store.cache_file("s", FileWrite("a.py", b"before"))
        with redis_standalone.client() as admin:
            assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
        store.cache_file("s", FileWrite("a.py", b"after"))
        found = store.get_file("s", "a.py")
        assert found is not None and found.content == b"after"
        assert found.metadata.version == 2  # written once, not twice
    finally:
        store.close()


def test_a_cluster_call_sent_to_the_wrong_node_follows_the_redirection(
    redis_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(redis_cluster.url, f"lean{time.monotonic_ns()}:")
    try:
        store.cache_file("s", FileWrite("a.py", b"moved"))
        client: Any = store.client
        nodes = client.nodes_manager
        right = nodes.get_node_from_slot(client.keyslot(store._layout.namespace("s").data))
        wrong = next(n for n in client.get_primaries() if n.name != right.name)
        real = nodes.get_node_from_slot
        misled: list[bool] = []

        def stale_map(*args: Any, **kwargs: Any) -> Any:
            if not misled:  # the lean path's lookup, as with a map from before a resharding
                misled.append(True)
                return wrong
            return real(*args, **kwargs)

        monkeypatch.setattr(nodes, "get_node_from_slot", stale_map)
        found = store.get_file("s", "a.py")
        assert misled and found is not None and found.content == b"moved"
    finally:
        store.close()
