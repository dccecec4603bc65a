"""Every RPC over the wire, through the typed client, against a real server.

Limits, validation, budgets and overload live in ``test_service_limits.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.message import Message

from contextstore.client import (
    CachedAnalysis,
    ContextStoreClient,
    FileUpload,
    InvalidArgument,
    Removed,
)
from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

MTIME = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=-5)))


@pytest.fixture
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.ContextStoreServiceStub:
    return pb_grpc.ContextStoreServiceStub(channel)


# -- files ---------------------------------------------------------------------


def test_cache_file_round_trip(client: ContextStoreClient) -> None:
    content = b"print('hello')\n"
    labels = {"lang": "python", "owner": "ci"}
    meta = client.cache_file("src/app.py", content, labels=labels, mtime=MTIME)

    assert meta.path == "src/app.py"
    assert meta.size == len(content)
    assert meta.sha256 == hashlib.sha256(content).digest()
    assert meta.labels == labels
    assert meta.mtime == MTIME
    assert meta.mtime.microsecond == 123456
    assert meta.mtime.utcoffset() == timedelta(0)
    assert meta.cached_at.tzinfo is not None
    assert abs(datetime.now(UTC) - meta.cached_at) < timedelta(minutes=1)

    found = client.get_file("src/app.py")
    assert found is not None
    assert found.content == content
    assert found.metadata == meta
    assert client.get_metadata("src/app.py") == meta


def test_mtime_is_optional(client: ContextStoreClient) -> None:
    assert client.cache_file("a", b"x").mtime is None
    found = client.get_file("a")
    assert found is not None and found.metadata.mtime is None


def test_rewrite_grows_version_and_cached_at(client: ContextStoreClient) -> None:
    first = client.cache_file("a.txt", b"one", labels={"k": "v"})
    second = client.cache_file("a.txt", b"two")
    assert second.version > first.version
    assert second.cached_at > first.cached_at
    assert second.labels == {}
    assert client.get_metadata("a.txt") == second
    third = client.cache_file("a.txt", b"two")  # identical content is still a write
    assert third.version > second.version
    assert third.cached_at > second.cached_at


def test_miss_returns_none_and_the_wire_says_not_found(
    client: ContextStoreClient, stub: pb_grpc.ContextStoreServiceStub
) -> None:
    assert client.get_file("nope") is None
    assert client.get_metadata("nope") is None
    assert client.get_analysis("nope", "lint") is None
    lookups: list[tuple[Callable[..., object], Message]] = [
        (stub.GetFile, pb.GetFileRequest(path="nope")),
        (stub.GetMetadata, pb.GetMetadataRequest(path="nope")),
        (stub.GetAnalysis, pb.GetAnalysisRequest(path="nope", analysis_type="lint")),
    ]
    for call, request in lookups:
        with pytest.raises(grpc.RpcError) as info:
            call(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        details = info.value.details()
        assert details is not None
        assert "nope" in details


@pytest.mark.parametrize(
    "content",
    [b"", bytes(range(256)) * 4, "héllo wörld ✓\n".encode(), b"\x00" * 1000],
    ids=["empty", "all-bytes", "utf8", "nuls"],
)
def test_content_is_stored_byte_for_byte(client: ContextStoreClient, content: bytes) -> None:
    meta = client.cache_file("f.bin", content)
    assert meta.size == len(content)
    assert meta.sha256 == hashlib.sha256(content).digest()
    found = client.get_file("f.bin")
    assert found is not None  # an empty file is a hit, not a miss
    assert found.content == content


@pytest.mark.parametrize("path", ["src/naïve/日本語.py", "🙂/emoji file.txt", "a b/c\td", "./.."])
def test_unicode_and_odd_paths(client: ContextStoreClient, path: str) -> None:
    client.cache_file(path, path.encode())
    found = client.get_file(path)
    assert found is not None
    assert found.content == path.encode()
    assert found.metadata.path == path
    assert client.batch_get_files([path])[0] == found


# -- namespaces ----------------------------------------------------------------


def test_session_named_global_is_not_the_global_namespace(client: ContextStoreClient) -> None:
    client.cache_file("p", b"global ns")
    named = client.session("global")
    assert named.get_file("p") is None
    named.cache_file("p", b"named session")
    found = client.get_file("p")
    assert found is not None
    assert found.content == b"global ns"
    found = named.get_file("p")
    assert found is not None
    assert found.content == b"named session"


def test_sessions_are_isolated(client: ContextStoreClient) -> None:
    a, b = client.session("a"), client.session("b")
    a.cache_file("p", b"from a")
    a.cache_analysis("p", "lint", b"a-lint")
    assert b.get_file("p") is None
    assert b.get_analysis("p", "lint") is None
    assert client.get_file("p") is None
    b.cache_file("p", b"from b")
    found = a.get_file("p")
    assert found is not None
    assert found.content == b"from a"
    found = b.get_file("p")
    assert found is not None
    assert found.content == b"from b"
    assert a.session_id == "a"


def test_empty_session_id_is_the_global_namespace(
    client: ContextStoreClient, stub: pb_grpc.ContextStoreServiceStub
) -> None:
    empty = client.session("")
    assert empty.session_id is None
    empty.cache_file("p", b"via empty handle")
    found = client.get_file("p")
    assert found is not None
    assert found.content == b"via empty handle"
    # On the wire too: a present but empty session_id selects the global namespace.
    stub.CacheFile(pb.CacheFileRequest(session_id="", path="q", content=b"raw"), timeout=10)
    found = client.get_file("q")
    assert found is not None
    assert found.content == b"raw"
    found = client.session(None).get_file("q")
    assert found is not None
    assert found.content == b"raw"


# -- analyses ------------------------------------------------------------------


def test_analysis_round_trip_with_a_file(client: ContextStoreClient) -> None:
    client.cache_file("m.py", b"x = 1")
    at = client.cache_analysis("m.py", "lint", b'{"ok": true}')
    assert at.tzinfo is not None
    client.cache_analysis("m.py", "types", b"")
    assert client.get_analysis("m.py", "lint") == CachedAnalysis(b'{"ok": true}', at)
    analysis = client.get_analysis("m.py", "types")
    assert analysis is not None
    assert analysis.result == b""
    assert client.get_analysis("m.py", "other") is None
    later = client.cache_analysis("m.py", "lint", b"v2")
    assert later > at
    assert client.get_analysis("m.py", "lint") == CachedAnalysis(b"v2", later)


def test_analysis_without_a_file(client: ContextStoreClient) -> None:
    client.cache_analysis("nofile.py", "lint", b"r")
    assert client.get_file("nofile.py") is None
    analysis = client.get_analysis("nofile.py", "lint")
    assert analysis is not None
    assert analysis.result == b"r"
    # No digest was recorded, so nothing shows the analysis was computed from
    # the first file cached there: it is dropped rather than risk staleness...
    client.cache_file("nofile.py", b"v1")
    assert client.get_analysis("nofile.py", "lint") is None
    # ...while one cached against that file survives re-caching the same content.
    client.cache_analysis("nofile.py", "lint", b"r1")
    client.cache_file("nofile.py", b"v1")
    analysis = client.get_analysis("nofile.py", "lint")
    assert analysis is not None
    assert analysis.result == b"r1"


def test_changed_content_drops_stale_analyses(client: ContextStoreClient) -> None:
    client.cache_file("m.py", b"v1")
    client.cache_analysis("m.py", "lint", b"l")
    client.cache_analysis("m.py", "types", b"t")
    other = client.session("other")
    other.cache_file("m.py", b"v1")
    other.cache_analysis("m.py", "lint", b"other-l")

    client.cache_file("m.py", b"v1", labels={"new": "labels"})  # same digest: kept
    analysis = client.get_analysis("m.py", "lint")
    assert analysis is not None
    assert analysis.result == b"l"
    analysis = client.get_analysis("m.py", "types")
    assert analysis is not None
    assert analysis.result == b"t"

    client.cache_file("m.py", b"v2")  # new digest: every type dropped
    assert client.get_analysis("m.py", "lint") is None
    assert client.get_analysis("m.py", "types") is None
    assert client.stats().analyses == 0
    analysis = other.get_analysis("m.py", "lint")
    assert analysis is not None
    assert analysis.result == b"other-l"


def test_batch_write_also_drops_stale_analyses(client: ContextStoreClient) -> None:
    client.cache_file("a", b"1")
    client.cache_file("b", b"1")
    client.cache_analysis("a", "lint", b"la")
    client.cache_analysis("b", "lint", b"lb")
    client.batch_cache_files([FileUpload("a", b"1"), FileUpload("b", b"2")])
    analysis = client.get_analysis("a", "lint")
    assert analysis is not None
    assert analysis.result == b"la"
    assert client.get_analysis("b", "lint") is None


def test_invalidate_analysis_one_type_then_all(client: ContextStoreClient) -> None:
    client.cache_file("m.py", b"src")
    for kind in ("lint", "types", "deps"):
        client.cache_analysis("m.py", kind, kind.encode())
    assert client.invalidate_analysis("m.py", "lint") == 1
    assert client.get_analysis("m.py", "lint") is None
    analysis = client.get_analysis("m.py", "types")
    assert analysis is not None
    assert analysis.result == b"types"
    assert client.invalidate_analysis("m.py", "lint") == 0
    assert client.invalidate_analyses("m.py") == 2
    assert client.get_analysis("m.py", "types") is None
    assert client.get_analysis("m.py", "deps") is None
    assert client.invalidate_analyses("m.py") == 0
    assert client.invalidate_analyses("never-seen") == 0
    found = client.get_file("m.py")
    assert found is not None
    assert found.content == b"src"  # the file is not an analysis


def test_invalidate_file_counts(client: ContextStoreClient) -> None:
    client.cache_file("m.py", b"src")
    client.cache_analysis("m.py", "lint", b"l")
    client.cache_analysis("m.py", "types", b"t")
    client.session("s").cache_file("m.py", b"other")
    assert client.invalidate_file("m.py") == Removed(files=1, analyses=2)
    assert client.get_file("m.py") is None
    assert client.get_analysis("m.py", "lint") is None
    assert client.invalidate_file("m.py") == Removed(0, 0)
    assert client.invalidate_file("absent") == Removed(0, 0)
    found = client.session("s").get_file("m.py")
    assert found is not None
    assert found.content == b"other"
    client.cache_analysis("only-analysis", "lint", b"l")
    assert client.invalidate_file("only-analysis") == Removed(0, 1)


def test_clear_session_counts_and_isolation(client: ContextStoreClient) -> None:
    s1, s2 = client.session("s1"), client.session("s2")
    s1.cache_file("a", b"1")
    s1.cache_file("b", b"2")
    s1.cache_analysis("a", "lint", b"l")
    s2.cache_file("a", b"s2")
    client.cache_file("a", b"global")
    assert s1.clear_session() == Removed(files=2, analyses=1)
    assert s1.batch_get_files(["a", "b"]) == [None, None]
    assert s1.get_analysis("a", "lint") is None
    found = s2.get_file("a")
    assert found is not None
    assert found.content == b"s2"
    found = client.get_file("a")
    assert found is not None
    assert found.content == b"global"
    assert s1.clear_session() == Removed(0, 0)
    assert client.session("never").clear_session() == Removed(0, 0)


def test_clear_session_without_session_clears_global_only(client: ContextStoreClient) -> None:
    client.cache_file("a", b"g")
    client.cache_analysis("a", "lint", b"l")
    client.session("s").cache_file("a", b"s")
    assert client.clear_session() == Removed(1, 1)
    assert client.get_file("a") is None
    found = client.session("s").get_file("a")
    assert found is not None
    assert found.content == b"s"
    assert client.store_stats().files == 1


# -- batches -------------------------------------------------------------------


def test_batch_get_files_order_misses_and_duplicates(client: ContextStoreClient) -> None:
    a = client.cache_file("a", b"A")
    b = client.cache_file("b", b"B")
    got = client.batch_get_files(["b", "missing", "a", "b"])
    assert [f and f.content for f in got] == [b"B", None, b"A", b"B"]
    assert got[0] is not None and got[2] is not None
    assert got[0].metadata == b and got[2].metadata == a
    assert client.batch_get_files([]) == []
    assert client.session("s").batch_get_files(["a"]) == [None]


def test_batch_cache_files_round_trip(client: ContextStoreClient) -> None:
    uploads = [
        FileUpload("z", b"last-name-first", labels={"i": "0"}, mtime=MTIME),
        FileUpload("a", b""),
        FileUpload("m", bytes(range(256))),
    ]
    metas = client.session("s").batch_cache_files(uploads)
    assert [m.path for m in metas] == ["z", "a", "m"]
    assert [m.sha256 for m in metas] == [hashlib.sha256(u.content).digest() for u in uploads]
    assert metas[0].labels == {"i": "0"} and metas[0].mtime == MTIME
    assert metas[1].mtime is None
    got = client.session("s").batch_get_files(["z", "a", "m"])
    assert [f and f.content for f in got] == [u.content for u in uploads]
    assert [f and f.metadata for f in got] == metas
    assert client.batch_cache_files([]) == []


def test_batch_cache_files_is_all_or_nothing(client: ContextStoreClient) -> None:
    client.cache_file("f0", b"old")
    uploads = [FileUpload(f"f{i}", b"new") for i in range(3)]
    uploads += [FileUpload("", b"bad"), FileUpload("f4", b"new")]
    with pytest.raises(InvalidArgument) as info:
        client.batch_cache_files(uploads)
    assert [v.subject for v in info.value.violations] == ["files[3].path"]
    got = client.batch_get_files(["f0", "f1", "f2", "f4"])
    assert got[0] is not None
    assert got[0].content == b"old"
    assert got[1:] == [None, None, None]
    assert client.store_stats().files == 1


def test_batch_cache_files_rejects_duplicate_paths(client: ContextStoreClient) -> None:
    # Each repeat names its own index and the first one's, however many repeats.
    uploads = [FileUpload("a", b"1"), FileUpload("b", b"2"), FileUpload("a", b"3")]
    uploads.append(FileUpload("a", b"4"))
    with pytest.raises(InvalidArgument) as info:
        client.batch_cache_files(uploads)
    assert [(v.subject, v.description) for v in info.value.violations] == [
        ("files[2].path", "repeats the path of files[0]"),
        ("files[3].path", "repeats the path of files[0]"),
    ]
    assert client.batch_get_files(["a", "b"]) == [None, None]
