"""The asyncio client against a real server: the same calls, awaited.

Each test drives its own event loop with ``asyncio.run``; the channel is
created inside it, as grpc.aio requires.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import grpc
import grpc.aio
import pytest

from contextstore.client import (
    AsyncContextStoreClient,
    DeadlineExceeded,
    FileUpload,
    InvalidArgument,
    Removed,
    ResourceExhausted,
    Unavailable,
)
from contextstore.server import __version__
from contextstore.server.app import Server

if TYPE_CHECKING:
    from support import BlockingStore

MTIME = datetime(2023, 6, 1, 12, 0, 0, 654321, tzinfo=UTC)


def test_files_round_trip(server: Server) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(server.address, timeout=10) as client:
            meta = await client.cache_file("a.py", b"x = 1", labels={"k": "v"}, mtime=MTIME)
            assert meta.sha256 == hashlib.sha256(b"x = 1").digest()
            assert (meta.size, meta.labels, meta.mtime) == (5, {"k": "v"}, MTIME)
            found = await client.get_file("a.py")
            assert found is not None and found.content == b"x = 1" and found.metadata == meta
            assert await client.get_metadata("a.py") == meta
            again = await client.cache_file("a.py", b"x = 2")
            assert again.version > meta.version and again.cached_at > meta.cached_at
            assert await client.get_file("missing") is None
            assert await client.get_metadata("missing") is None

    asyncio.run(main())


def test_sessions_analyses_and_invalidation(server: Server) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(server.address, timeout=10) as client:
            s = client.session("s")
            assert s.session_id == "s"
            await s.cache_file("m.py", b"v1")
            at = await s.cache_analysis("m.py", "lint", b"ok")
            await s.cache_analysis("m.py", "types", b"t")
            assert await client.get_analysis("m.py", "lint") is None
            got = await s.get_analysis("m.py", "lint")
            assert got is not None and (got.result, got.cached_at) == (b"ok", at)
            await s.cache_file("m.py", b"v1")  # same digest: analyses kept
            assert await s.get_analysis("m.py", "types") is not None
            assert await s.invalidate_analysis("m.py", "types") == 1
            assert await s.invalidate_file("m.py") == Removed(files=1, analyses=1)
            await s.cache_file("m.py", b"v1")
            await s.cache_analysis("m.py", "lint", b"ok")
            await s.cache_file("m.py", b"v2")  # new digest: analyses dropped
            assert await s.get_analysis("m.py", "lint") is None
            assert await s.invalidate_analyses("m.py") == 0
            await client.cache_file("g", b"global")
            assert await s.clear_session() == Removed(files=1, analyses=0)
            found = await client.get_file("g")
            assert found is not None
            assert found.content == b"global"

    asyncio.run(main())


def test_batches_stats_and_server_info(server: Server) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(server.address, timeout=10) as client:
            metas = await client.batch_cache_files(
                [FileUpload("a", b"A"), FileUpload("b", b"B", mtime=MTIME)]
            )
            assert [m.path for m in metas] == ["a", "b"] and metas[1].mtime == MTIME
            got = await client.batch_get_files(["b", "nope", "a", "b"])
            assert [f and f.content for f in got] == [b"B", None, b"A", b"B"]
            stats = await client.stats()
            assert (stats.files, stats.hits, stats.misses) == (2, 3, 1)
            await client.session("s").cache_file("x", b"")
            whole = await client.store_stats()
            assert (whole.files, whole.sessions) == (3, 2)
            info = await client.server_info()
            assert (info.version, info.backend) == (__version__, "memory")
            assert info.limits.max_content_bytes == 1 << 20

    asyncio.run(main())


def test_invalid_argument_carries_violations(server: Server) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(server.address, timeout=10) as client:
            with pytest.raises(InvalidArgument) as info:
                await client.cache_file("a\x00", b"x")
            assert [v.subject for v in info.value.violations] == ["path"]
            assert isinstance(info.value.__cause__, grpc.aio.AioRpcError)  # chained, kept
            with pytest.raises(InvalidArgument) as info:
                await client.session("bad\n").get_file("p")
            assert [v.subject for v in info.value.violations] == ["session_id"]
            uploads = [FileUpload(f"f{i}", b"x") for i in range(3)] + [FileUpload("", b"")]
            with pytest.raises(InvalidArgument) as info:
                await client.batch_cache_files(uploads)
            assert [v.subject for v in info.value.violations] == ["files[3].path"]
            assert await client.batch_get_files(["f0", "f1", "f2"]) == [None, None, None]
            assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT

    asyncio.run(main())


def test_resource_exhausted_then_the_channel_still_works(server: Server) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(server.address, timeout=10) as client:
            await client.cache_file("big", b"b" * (1 << 20))
            with pytest.raises(ResourceExhausted) as info:
                await client.batch_get_files(["big"] * 3)
            assert [v.subject for v in info.value.violations] == ["max_message_bytes"]
            metadata = await client.get_metadata("big")
            assert metadata is not None
            assert metadata.size == 1 << 20

    asyncio.run(main())


def test_many_concurrent_calls_on_one_channel(server: Server) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(server.address, timeout=10) as client:
            await asyncio.gather(
                *(client.session(f"s{i % 4}").cache_file(f"p{i}", bytes([i])) for i in range(64))
            )
            got = await asyncio.gather(
                *(client.session(f"s{i % 4}").get_file(f"p{i}") for i in range(64))
            )
            assert [f and f.content for f in got] == [bytes([i]) for i in range(64)]
            assert (await client.store_stats()).files == 64

    asyncio.run(main())


def test_deadline_exceeded(blocking_server: Server, blocking_store: BlockingStore) -> None:
    store = blocking_store

    async def main() -> None:
        async with AsyncContextStoreClient(blocking_server.address, timeout=0.2) as client:
            with pytest.raises(DeadlineExceeded):
                await client.get_file("p")
            assert store.entered.wait(timeout=10)
            store.release.set()
            assert await client.get_file("p", timeout=10) is None

    asyncio.run(main())


def test_unavailable_for_a_dead_address(dead_address: str) -> None:
    async def main() -> None:
        async with AsyncContextStoreClient(dead_address, timeout=10) as client:
            with pytest.raises(Unavailable):
                await client.get_file("p")
            with pytest.raises(Unavailable):
                await client.cache_file("p", b"x")

    asyncio.run(main())


def test_session_handle_shares_the_channel_and_close_is_owned(server: Server) -> None:
    async def main() -> None:
        client = AsyncContextStoreClient(server.address, timeout=10)
        handle = client.session("s")
        await handle.cache_file("p", b"x")
        await handle.close()  # a handle does not own the channel
        found = await client.session("s").get_file("p")
        assert found is not None
        assert found.content == b"x"
        await client.close()
        with pytest.raises(grpc.aio.UsageError, match="Channel is closed"):
            await handle.get_file("p")

    asyncio.run(main())
