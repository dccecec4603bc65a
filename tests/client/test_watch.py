"""``watch`` in the Python clients, against real servers: order, progress, resume, compaction.

Every wait here is for something the server sends (a response, a status),
never a sleep: a server with a short ``watch_progress_seconds`` sends progress
on its own, and one with a tiny ``watch_max_stream_seconds`` ends each stream
after one change, so the client must resume between any two of them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from contextstore.client import (
    AsyncContextStoreClient,
    ContextStoreClient,
    EventKind,
    FileUpload,
    RemovalReason,
    RevisionCompacted,
    Unavailable,
    WatchResponse,
)
from contextstore.server.app import Server
from contextstore.server.store.base import FileWrite
from contextstore.server.store.memory import StripedStore

StartServer = Callable[..., Server]


class CountingWatches(grpc.ServerInterceptor):
    """Counts Watch calls the server receives: how many times a client (re)opened one."""

    def __init__(self) -> None:
        self.calls = 0

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        if details.method.endswith("/Watch"):
            self.calls += 1
        return continuation(details)


def changes(watch: Iterator[WatchResponse], count: int) -> list[WatchResponse]:
    """The next ``count`` responses that carry events (progress skipped)."""
    found: list[WatchResponse] = []
    for response in watch:
        if not response.progress:
            found.append(response)
            if len(found) == count:
                break
    return found


def test_a_watch_from_a_listed_revision_sees_every_later_change_in_order(
    client: ContextStoreClient,
) -> None:
    s = client.session("w")
    s.cache_file("a.py", b"a")
    listed = s.list_files_page()
    removed = s.invalidate_file("a.py")
    s.batch_cache_files([])  # changes nothing
    batch = s.batch_cache_files([FileUpload("b.py", b"b"), FileUpload("src/c.py", b"c")])
    s.cache_analysis("b.py", "ast", b"t")
    s.cache_file("b.py", b"b2")
    cleared = s.clear_session()
    with s.watch(listed.revision) as watch:
        first = next(watch)
        assert first.progress and first.revision == listed.revision
        got = changes(watch, 5)
    assert [[(e.kind, e.path) for e in r.events] for r in got] == [
        [(EventKind.FILE_INVALIDATED, "a.py")],
        [(EventKind.FILE_CACHED, "b.py"), (EventKind.FILE_CACHED, "src/c.py")],
        [(EventKind.ANALYSIS_CACHED, "b.py")],
        [(EventKind.ANALYSIS_REMOVED, "b.py"), (EventKind.FILE_CACHED, "b.py")],
        [(EventKind.SESSION_CLEARED, "")],
    ]
    assert got[0].revision == removed.revision
    assert got[1].events[0].version == batch[0].version
    assert got[1].events[1].sha256 == batch[1].sha256
    assert got[3].events[0].reason is RemovalReason.STALE
    assert got[-1].revision == cleared.revision
    with s.watch(listed.revision, path_prefix="src/") as watch:
        only = changes(watch, 2)
    assert [[e.path for e in r.events] for r in only] == [["src/c.py"], [""]]


def test_an_idle_stream_gets_progress_at_the_namespace_revision(
    start_server: StartServer,
) -> None:
    server = start_server(watch_progress_seconds=0.05)
    with ContextStoreClient(server.address) as client:
        client.cache_file("a.py", b"a")
        current = client.list_files_page().revision
        with client.watch() as watch:
            beats = [next(watch), next(watch), next(watch)]
    assert all(b.progress and not b.events for b in beats)
    assert {b.revision for b in beats} == {current}


def test_a_watch_resumes_itself_when_servers_end_streams(start_server: StartServer) -> None:
    counting = CountingWatches()
    server = start_server(watch_max_stream_seconds=1e-6)
    # The same store behind a server that counts the Watch calls it gets.
    counted = Server(server.config, server.store, outer_interceptors=[counting])
    counted.start()
    try:
        with ContextStoreClient(counted.address) as client:
            start = client.list_files_page().revision
            written = [client.cache_file(f"f{i}", b"x") for i in range(20)]
            with client.watch(start) as watch:
                got = changes(watch, 20)
    finally:
        counted.stop(grace=0)
    assert [r.events[0].path for r in got] == [f"f{i}" for i in range(20)]
    assert [r.events[0].version for r in got] == [m.version for m in written]
    assert counting.calls >= 20, "one stream per change: every one resumed"


def test_a_watch_resumes_across_a_server_restart_without_a_gap(
    start_server: StartServer,
) -> None:
    store = StripedStore()
    first = start_server(store)
    port = first.port
    with ContextStoreClient(first.address) as client:
        watch = client.watch()
        assert next(watch).progress
        client.cache_file("before.py", b"1")
        (before,) = changes(watch, 1)
        first.stop(grace=0)  # the stream ends with UNAVAILABLE
        store.cache_file("s", FileWrite("elsewhere.py", b"x"))  # another namespace
        store.cache_file(None, FileWrite("while-down.py", b"x"))
        second = start_server(store, listen=f"127.0.0.1:{port}")
        store.cache_file(None, FileWrite("after.py", b"2"))
        got = changes(watch, 2)
        watch.close()
    assert second.port == port
    assert [r.events[0].path for r in got] == ["while-down.py", "after.py"]
    assert before.revision < got[0].revision < got[1].revision


def test_a_start_no_longer_retained_raises_revision_compacted(start_server: StartServer) -> None:
    server = start_server(watch_history_revisions=2)
    with ContextStoreClient(server.address) as client:
        start = client.list_files_page().revision
        for i in range(4):
            client.cache_file(f"f{i}", b"x")
        with pytest.raises(RevisionCompacted) as compacted, client.watch(start) as watch:
            next(watch)
    error = compacted.value
    assert error.code == grpc.StatusCode.OUT_OF_RANGE
    assert start < error.oldest_revision < error.current_revision


def test_close_ends_a_watch_waiting_in_another_thread(client: ContextStoreClient) -> None:
    watch = client.watch()
    assert next(watch).progress
    ended = threading.Event()

    def drain() -> None:
        for _ in watch:
            pass
        ended.set()

    reader = threading.Thread(target=drain)
    reader.start()
    watch.close()
    reader.join(30)
    assert ended.is_set()


def test_a_server_that_stays_down_ends_the_watch_with_unavailable(
    start_server: StartServer,
) -> None:
    server = start_server()
    with ContextStoreClient(server.address) as client:
        watch = client.watch(resume_timeout=1.0)
        assert next(watch).progress
        server.stop(grace=0)
        with pytest.raises(Unavailable):
            for _ in watch:
                pass


def test_the_async_watch_resumes_too(start_server: StartServer) -> None:
    server = start_server(watch_max_stream_seconds=1e-6)

    async def run() -> list[str]:
        async with AsyncContextStoreClient(server.address) as client:
            start = (await client.list_files_page()).revision
            for i in range(5):
                await client.cache_file(f"f{i}", b"x")
            paths: list[str] = []
            async with client.watch(start) as watch:
                async for response in watch:
                    paths += [e.path for e in response.events]
                    if len(paths) == 5:
                        break
            return paths

    assert asyncio.run(run()) == [f"f{i}" for i in range(5)]
