"""The Redis backend's records: metadata kept in wire form, and what happens to older layouts.

A file's tail is encoded once: its head by the server (``wire.metadata_head``)
and its stamp (cached_at, version) by ``put_files`` in Lua. A read returns
those bytes as they are, so they must be exactly what ``wire`` would have
written. Namespaces written by earlier layouts (1: no wire tail, plain hex
ids; 2: no path index, ids starting with ``w``; today's start with
``layout.LAYOUT``) are never read, and a bucket sweep deletes them
(``library.lua``, "Namespace ids").
"""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contextstore.server import wire
from contextstore.server.store.base import Budgets, FileWrite
from contextstore.server.store.redis import RedisStore, Settings, layout

_sessions = itertools.count()


def _store(url: str, prefix: str, wall: list[int]) -> RedisStore:
    return RedisStore(
        Settings(url, timeout_seconds=5.0, connections=4),
        key_prefix=prefix,
        budgets=Budgets(session_ttl_seconds=3600),
        timer=lambda: 100.0,
        wall_clock=lambda: wall[0],
    )


_labels = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3)


def test_a_read_returns_the_tail_wire_would_encode_byte_for_byte(redis_standalone: Any) -> None:
    wall = [0]
    store = _store(redis_standalone.url, f"tail{time.monotonic_ns()}:", wall)

    @settings(max_examples=80, deadline=None)
    @given(
        wall_ns=st.integers(0, 2**63 - 1),
        version=st.integers(0, 2**53 - 2),
        content=st.binary(max_size=300),
        mtime_ns=st.none() | st.integers(-(2**62), 2**62),
        labels=_labels,
    )
    @example(wall_ns=0, version=0, content=b"", mtime_ns=None, labels={})  # no stamp fields
    @example(wall_ns=5 * 10**9, version=127, content=b"x", mtime_ns=0, labels={})  # no nanos
    @example(wall_ns=999_999_999, version=128, content=b"x", mtime_ns=-1, labels={"k": "v"})
    def check(
        wall_ns: int, version: int, content: bytes, mtime_ns: int | None, labels: dict[str, str]
    ) -> None:
        ns = f"s{next(_sessions)}"
        # The version count is per bucket: start it where the example says.
        store.client.hset(store._layout.namespace(ns).tally, "v", version)
        store.client.hdel(store._layout.namespace(ns).tally, "c")  # cached_at = the wall, as given
        wall[0] = wall_ns
        meta = store.cache_file(ns, FileWrite("dir/é.py", content, labels, mtime_ns))
        assert (meta.cached_at_ns, meta.version) == (wall_ns, version + 1)
        found = store.get_file_wire(ns, "dir/é.py")
        assert found is not None
        assert found.content == content
        assert found.tail == wire.metadata_tail(
            len(content), hashlib.sha256(content).digest(), mtime_ns, wall_ns, labels, version + 1
        )

    try:
        check()
    finally:
        store.close()


def _old_namespace(store: RedisStore, ns: str, now: float, mark: str) -> tuple[str, str]:
    """Write, by hand, a session of one file as an earlier release stored it.

    ``mark`` starts its id: "" for layout 1, "w" for layout 2. Returns its
    data key and its id in the bucket's index.
    """
    keys = store._layout.namespace(ns)
    old_id = mark + hashlib.sha256(b"s" + ns.encode()).digest()[2:14].hex()
    data = keys.data.removesuffix(keys.id) + old_id
    content = b"print('old')"
    # cached_at(20) version(16) charge(10) sha256(32) meta length(8) meta content
    record = b"%020d%016d%010d" % (10**18, 1, len(content) + 6) + hashlib.sha256(content).digest()
    record += b"%08d" % 0 + content
    client = store.client
    client.hset(data, mapping={"a.py": record, "\0\0u": repr(now), "\0\0f": 1, "\0\0b": 18})
    client.zadd(keys.idle, {old_id: now})
    return data, old_id


@pytest.mark.parametrize("mark", ["", "w"])
def test_namespaces_of_earlier_layouts_are_misses_and_the_sweep_deletes_them(
    redis_standalone: Any, mark: str
) -> None:
    store = _store(redis_standalone.url, f"old{time.monotonic_ns()}:", [10**18])
    try:
        data, old_id = _old_namespace(store, "agent", now=100.0, mark=mark)
        store.cache_file("other", FileWrite("b.py", b"new"))

        assert store.get_file("agent", "a.py") is None  # a miss, not a misread
        assert store.get_metadata("agent", "a.py") is None
        assert store.stats("agent").files == 0
        assert store.list_files("agent", "", None, 10).files == []

        totals = store.store_stats()  # sweeps every bucket
        assert (totals.files, totals.sessions, totals.expirations) == (1, 1, 0)
        assert not store.client.exists(data)
        assert store.client.zscore(store._layout.namespace("agent").idle, old_id) is None
        # The session goes on under the new layout.
        store.cache_file("agent", FileWrite("a.py", b"again"))
        found = store.get_file("agent", "a.py")
        assert found is not None and found.content == b"again"
    finally:
        store.close()


def test_namespace_ids_carry_the_layout() -> None:
    keys = layout.Layout("p:").namespace("s")
    assert keys.id.startswith(layout.LAYOUT) and keys.data.endswith(keys.id)
