"""Watch on the Redis backend: what only it promises, beyond ``contract_watch``.

Servers sharing one Redis share one history per namespace; the history of a
namespace that is gone is deleted after ``watch_history_seconds`` by the
bucket sweep, and a Redis that lost its data says so, never a gap.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from server.store.contract import fw
from server.store.test_redis import redis_url  # noqa: F401 - a fixture
from support import FakeClock

from contextstore.server.errors import RevisionCompacted
from contextstore.server.store.base import Budgets
from contextstore.server.store.events import EventKind, Revision
from contextstore.server.store.redis import RedisStore, Settings


def _pair(url: str, **budgets: Any) -> tuple[RedisStore, RedisStore]:
    """Two stores on one Redis and one key prefix: two servers of one deployment."""
    prefix = f"watch{time.monotonic_ns()}:"
    settings = Settings(url, timeout_seconds=5.0, connections=4)
    b = Budgets(session_ttl_seconds=0, **budgets)
    return (
        RedisStore(settings, key_prefix=prefix, budgets=b),
        RedisStore(settings, key_prefix=prefix, budgets=b),
    )


def test_a_watcher_on_one_server_sees_writes_through_another_in_order(redis_url: str) -> None:  # noqa: F811
    a, b = _pair(redis_url)
    try:
        cursor = b.watch("s", 0)
        got: list[list[Revision]] = []
        waiter = threading.Thread(target=lambda: got.append(cursor.next(60)))
        waiter.start()
        first = a.cache_file("s", fw("x", b"1"))
        waiter.join(30)
        assert not waiter.is_alive()
        assert [c.revision for c in got[0]] == [first.revision]
        revisions = [a.cache_file("s", fw(f"f{i}", b"x")).revision for i in range(20)]
        assert [c.revision for c in cursor.next(0)] == revisions
        cursor.close()
    finally:
        a.close()
        b.close()


def test_the_sweep_deletes_old_histories_of_gone_namespaces_and_says_so(
    redis_url: str,  # noqa: F811
) -> None:
    clock = FakeClock(1_000_000.0)
    prefix = f"sweep{time.monotonic_ns()}:"
    store = RedisStore(
        Settings(redis_url, timeout_seconds=5.0, connections=4),
        key_prefix=prefix,
        budgets=Budgets(session_ttl_seconds=0, watch_history_seconds=60),
        timer=clock,
    )
    try:
        start = store.cache_file("s", fw("a", b"1")).revision
        store.cache_file("s", fw("b", b"2"))
        cleared = store.clear_session("s").revision
        assert len(store.watch("s", start).next(0)) == 2, "kept after the namespace empties"
        stream = store._layout.namespace("s").changes
        clock.now += 59
        store.expire_idle()
        assert store.client.exists(stream), "kept for watch_history_seconds"
        clock.now += 2
        store.expire_idle()
        assert not store.client.exists(stream)
        with pytest.raises(RevisionCompacted) as compacted:
            store.watch("s", start)
        assert compacted.value.oldest == cleared
        # The namespace comes back: its new stream starts above what was deleted.
        again = store.cache_file("s", fw("c", b"3")).revision
        with pytest.raises(RevisionCompacted):
            store.watch("s", start)
        changes = store.watch("s", cleared).next(0)
        assert [c.revision for c in changes] == [again]
        assert changes[0].events[0].kind is EventKind.FILE_CACHED
    finally:
        store.close()


def test_a_redis_that_lost_its_data_refuses_older_revisions(redis_url: str) -> None:  # noqa: F811
    a, b = _pair(redis_url)
    try:
        old = a.cache_file("s", fw("a", b"1")).revision
        for key in a.client.scan_iter(match=a._layout.prefix + "*"):
            a.client.delete(key)  # what a restart without persistence leaves
        new = b.cache_file("s", fw("a", b"1")).revision
        assert new > old, "revisions never go backwards: they follow Redis's clock"
        with pytest.raises(RevisionCompacted):
            b.watch("s", old)
    finally:
        a.close()
        b.close()
