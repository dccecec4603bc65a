"""Validation, size limits, budgets and overload, over the wire.

Each rule is checked through the typed client, and once per RPC on the raw
stub, so the tests prove the wire status and its rich details, not only the
client's mapping of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support import BlockingStore

from contextstore.client import (
    ContextStoreClient,
    ContextStoreError,
    FileUpload,
    InvalidArgument,
    ResourceExhausted,
)
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

MAX_CONTENT = 1 << 20  # TEST_CONFIG's max_content_bytes

StartServer = Callable[..., Server]


def subjects(error: ContextStoreError) -> list[str]:
    return [v.subject for v in error.violations]


def wire_error(
    server: Server, method: str, request: Message
) -> tuple[grpc.StatusCode, list[error_details_pb2.BadRequest | error_details_pb2.QuotaFailure]]:
    """Call ``method`` on a raw stub; return its status code and unpacked details."""
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            getattr(stub, method)(request, timeout=10)
    status = rpc_status.from_call(info.value)
    assert status is not None, "the server attached no google.rpc.Status"
    assert status.code == info.value.code().value[0]
    details: list[error_details_pb2.BadRequest | error_details_pb2.QuotaFailure] = []
    for detail in status.details:
        for kind in (error_details_pb2.BadRequest, error_details_pb2.QuotaFailure):
            message = kind()
            if detail.Unpack(message):
                details.append(message)
    return info.value.code(), details


# -- validation on the wire, once per RPC ---------------------------------------

FAR_FUTURE = Timestamp(seconds=253402300800)  # 10000-01-01: past google.protobuf.Timestamp
WIRE_CASES = [
    ("CacheFile", pb.CacheFileRequest(path=""), "path"),
    ("CacheFile", pb.CacheFileRequest(path="p", mtime=FAR_FUTURE), "mtime"),
    ("GetFile", pb.GetFileRequest(path="a\x00b"), "path"),
    ("GetMetadata", pb.GetMetadataRequest(path="x" * 4097), "path"),
    ("CacheAnalysis", pb.CacheAnalysisRequest(path="p", analysis_type=""), "analysis_type"),
    ("GetAnalysis", pb.GetAnalysisRequest(path="p", analysis_type="t" * 257), "analysis_type"),
    ("InvalidateFile", pb.InvalidateFileRequest(session_id="a\nb", path="p"), "session_id"),
    (
        "InvalidateAnalysis",
        pb.InvalidateAnalysisRequest(path="p", analysis_type=""),
        "analysis_type",
    ),
    ("InvalidateAnalysis", pb.InvalidateAnalysisRequest(path=""), "path"),
    ("ClearSession", pb.ClearSessionRequest(session_id="s" * 257), "session_id"),
    ("BatchGetFiles", pb.BatchGetFilesRequest(paths=["ok", ""]), "paths[1]"),
    (
        "BatchCacheFiles",
        pb.BatchCacheFilesRequest(files=[pb.FileUpload(path="ok"), pb.FileUpload(path="a\x00")]),
        "files[1].path",
    ),
    ("GetStats", pb.GetStatsRequest(session_id="\x7f"), "session_id"),
]


@pytest.mark.parametrize(("method", "request_", "field"), WIRE_CASES)
def test_wire_invalid_argument_with_bad_request(
    server: Server, method: str, request_: Message, field: str
) -> None:
    code, details = wire_error(server, method, request_)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    (bad_request,) = details
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert [v.field for v in bad_request.field_violations] == [field]
    assert bad_request.field_violations[0].description


# -- validation through the client ---------------------------------------------

BAD_PATHS = ["", "a\x00b", "x" * 4097, "é" * 2049]  # the last is 2049 chars but 4098 bytes
BAD_SESSIONS = ["s" * 257, "é" * 129, "a\nb", "\x7f", "tab\there", "\x85"]


def path_calls(c: ContextStoreClient, path: str) -> list[Callable[[], object]]:
    return [
        lambda: c.cache_file(path, b"x"),
        lambda: c.get_file(path),
        lambda: c.get_metadata(path),
        lambda: c.invalidate_file(path),
        lambda: c.cache_analysis(path, "lint", b"r"),
        lambda: c.get_analysis(path, "lint"),
        lambda: c.invalidate_analyses(path),
        lambda: c.invalidate_analysis(path, "lint"),
    ]


@pytest.mark.parametrize("path", BAD_PATHS, ids=["empty", "nul", "4097-bytes", "multibyte"])
def test_bad_path_is_rejected_by_every_call(client: ContextStoreClient, path: str) -> None:
    for call in path_calls(client, path):
        with pytest.raises(InvalidArgument) as info:
            call()
        assert subjects(info.value) == ["path"]
    with pytest.raises(InvalidArgument) as info:
        client.batch_get_files(["fine", path])
    assert subjects(info.value) == ["paths[1]"]
    with pytest.raises(InvalidArgument) as info:
        client.batch_cache_files([FileUpload(path, b"")])
    assert subjects(info.value) == ["files[0].path"]
    assert client.store_stats().files == 0


@pytest.mark.parametrize("path", ["x" * 4096, "é" * 2048, "a/b\\c:d*?"])
def test_path_limits_are_inclusive(client: ContextStoreClient, path: str) -> None:
    client.cache_file(path, b"ok")
    found = client.get_file(path)
    assert found is not None
    assert found.content == b"ok"


@pytest.mark.parametrize("session_id", BAD_SESSIONS)
def test_bad_session_id_is_rejected_by_every_call(
    client: ContextStoreClient, session_id: str
) -> None:
    s = client.session(session_id)
    calls: list[Callable[[], object]] = [
        *path_calls(s, "p"),
        lambda: s.clear_session(),
        lambda: s.batch_get_files(["p"]),
        lambda: s.batch_cache_files([FileUpload("p", b"")]),
        lambda: s.stats(),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert subjects(info.value) == ["session_id"]


@pytest.mark.parametrize("session_id", ["s" * 256, "é" * 128, "sessão 🙂", "global"])
def test_session_id_limits_are_inclusive(client: ContextStoreClient, session_id: str) -> None:
    s = client.session(session_id)
    s.cache_file("p", b"ok")
    found = s.get_file("p")
    assert found is not None
    assert found.content == b"ok"
    assert s.stats().files == 1


@pytest.mark.parametrize("analysis_type", ["", "t" * 257, "é" * 129])
def test_bad_analysis_type(client: ContextStoreClient, analysis_type: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: client.cache_analysis("p", analysis_type, b"r"),
        lambda: client.get_analysis("p", analysis_type),
        lambda: client.invalidate_analysis("p", analysis_type),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert subjects(info.value) == ["analysis_type"]
    client.cache_analysis("p", "t" * 256, b"inclusive")
    analysis = client.get_analysis("p", "t" * 256)
    assert analysis is not None
    assert analysis.result == b"inclusive"


@pytest.mark.parametrize(
    "labels",
    [{"a": "1", "b": "2", "c": "3"}, {"toolong": "v"}, {"k": "123456789"}, {"é" * 3: "v"}],
    ids=["count", "key", "value", "multibyte-key"],
)
def test_label_bounds(start_server: StartServer, labels: dict[str, str]) -> None:
    server = start_server(max_labels=2, max_label_key_bytes=4, max_label_value_bytes=8)
    with ContextStoreClient(server.address, timeout=10) as client:
        with pytest.raises(InvalidArgument) as info:
            client.cache_file("p", b"x", labels=labels)
        assert subjects(info.value) == ["labels"]
        with pytest.raises(InvalidArgument) as info:
            client.batch_cache_files([FileUpload("q", b""), FileUpload("p", b"x", labels)])
        assert subjects(info.value) == ["files[1].labels"]
        assert client.batch_get_files(["p", "q"]) == [None, None]
        at_bounds = {"abcd": "12345678", "é" * 2: "ü" * 4}
        assert client.cache_file("p", b"x", labels=at_bounds).labels == at_bounds


def test_every_violation_is_reported_at_once(client: ContextStoreClient) -> None:
    with pytest.raises(InvalidArgument) as info:
        client.cache_file("", b"x" * (MAX_CONTENT + 1))
    assert sorted(subjects(info.value)) == ["content", "path"]
    with pytest.raises(InvalidArgument) as info:
        client.cache_analysis("a\x00", "", b"x" * (MAX_CONTENT + 1))
    assert sorted(subjects(info.value)) == ["analysis_type", "path", "result"]
    with pytest.raises(InvalidArgument) as info:
        client.batch_cache_files(
            [FileUpload("", b""), FileUpload("ok", b""), FileUpload("\x00", b"")]
        )
    assert sorted(subjects(info.value)) == ["files[0].path", "files[2].path"]


# -- sizes ---------------------------------------------------------------------


def test_content_at_the_limit_fits_and_one_byte_more_does_not(client: ContextStoreClient) -> None:
    exact = bytes(range(256)) * (MAX_CONTENT // 256)
    assert client.cache_file("big", exact).size == MAX_CONTENT
    found = client.get_file("big")
    assert found is not None
    assert found.content == exact
    with pytest.raises(InvalidArgument) as info:
        client.cache_file("over", exact + b"!")
    assert subjects(info.value) == ["content"]
    assert client.get_file("over") is None
    client.cache_analysis("big", "dump", exact)
    with pytest.raises(InvalidArgument) as info:
        client.cache_analysis("big", "dump", exact + b"!")
    assert subjects(info.value) == ["result"]
    analysis = client.get_analysis("big", "dump")
    assert analysis is not None
    assert analysis.result == exact
    with pytest.raises(InvalidArgument) as info:
        client.batch_cache_files([FileUpload("ok", b""), FileUpload("over", exact + b"!")])
    assert subjects(info.value) == ["files[1].content"]


def test_batch_item_count_limit(start_server: StartServer) -> None:
    server = start_server(max_batch_items=5)
    with ContextStoreClient(server.address, timeout=10) as client:
        five = [f"p{i}" for i in range(5)]
        client.batch_cache_files([FileUpload(p, b"") for p in five])
        assert None not in client.batch_get_files(five)
        with pytest.raises(InvalidArgument) as info:
            client.batch_get_files([*five, "p0"])
        assert subjects(info.value) == ["paths"]
        with pytest.raises(InvalidArgument) as info:
            client.batch_cache_files([FileUpload(f"n{i}", b"") for i in range(6)])
        assert subjects(info.value) == ["files"]
        assert client.store_stats().files == 5
    code, (bad_request,) = wire_error(
        server, "BatchGetFiles", pb.BatchGetFilesRequest(paths=["a"] * 6)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad_request.field_violations] == ["paths"]


def test_batch_response_over_max_message_bytes(server: Server, client: ContextStoreClient) -> None:
    client.cache_file("big", b"b" * MAX_CONTENT)
    with pytest.raises(ResourceExhausted) as info:
        client.batch_get_files(["big", "big", "big"])
    assert subjects(info.value) == ["max_message_bytes"]
    code, (quota,) = wire_error(server, "BatchGetFiles", pb.BatchGetFilesRequest(paths=["big"] * 3))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert isinstance(quota, error_details_pb2.QuotaFailure)
    assert [v.subject for v in quota.violations] == ["max_message_bytes"]
    # The connection survives: the next calls on the same channel succeed.
    found = client.batch_get_files(["big"])[0]
    assert found is not None
    assert found.metadata.size == MAX_CONTENT
    assert client.server_info().backend == "memory"


def test_request_over_max_message_bytes_is_refused_whole(client: ContextStoreClient) -> None:
    uploads = [FileUpload(f"f{i}", b"x" * MAX_CONTENT) for i in range(3)]
    with pytest.raises(ResourceExhausted):
        client.batch_cache_files(uploads)
    assert client.store_stats().files == 0
    assert client.cache_file("after", b"ok").size == 2


# -- budgets -------------------------------------------------------------------


def file_of(charge: int, path: str) -> bytes:
    """Content that makes ``path`` charge exactly ``charge`` bytes."""
    return b"c" * (charge - len(path.encode()))


def test_total_budget_evicts_least_recently_used(start_server: StartServer) -> None:
    server = start_server(total_bytes=300)
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a", file_of(100, "a"))
        client.session("s").cache_file("b", file_of(100, "b"))
        client.cache_file("c", file_of(100, "c"))
        assert client.store_stats().evictions == 0
        client.get_file("a")  # now b is the least recently used, in another session
        client.cache_file("d", file_of(100, "d"))
        assert client.batch_get_files(["a", "c", "d"])[0] is not None
        assert None not in client.batch_get_files(["a", "c", "d"])
        assert client.session("s").get_file("b") is None
        stats = client.store_stats()
        assert (stats.evictions, stats.files, stats.bytes) == (1, 3, 300)
        assert client.session("s").stats().evictions == 1


def test_session_budgets_evict_within_the_namespace_only(start_server: StartServer) -> None:
    server = start_server(session_bytes=250, session_entries=3)
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("g1", file_of(100, "g1"))
        client.cache_file("g2", file_of(100, "g2"))
        s = client.session("s")
        s.cache_file("a", file_of(100, "a"))
        s.cache_file("b", file_of(100, "b"))
        s.get_file("a")
        s.cache_file("c", file_of(100, "c"))  # 300 > 250: evicts b
        assert [f is not None for f in s.batch_get_files(["a", "b", "c"])] == [True, False, True]
        s.cache_analysis("a", "x", b"")
        s.cache_analysis("c", "y", b"")  # 4 entries > 3: evicts the LRU, file a
        assert s.get_file("a") is None
        assert s.get_analysis("a", "x") is not None
        stats = s.stats()
        assert (stats.files, stats.analyses, stats.evictions) == (1, 2, 2)
        assert client.stats().evictions == 0
        assert None not in client.batch_get_files(["g1", "g2"])


@pytest.mark.parametrize(
    ("budget", "subject"),
    [({"total_bytes": 1000}, "total_bytes"), ({"session_bytes": 1000}, "session_bytes")],
)
def test_an_item_larger_than_a_byte_budget_is_refused(
    start_server: StartServer, budget: dict[str, int], subject: str
) -> None:
    server = start_server(**budget)
    with ContextStoreClient(server.address, timeout=10) as client:
        s = client.session("s")
        s.cache_file("keep", b"k")
        with pytest.raises(ResourceExhausted) as info:
            s.cache_file("big", file_of(1001, "big"))
        assert subjects(info.value) == [subject]
        with pytest.raises(ResourceExhausted) as info:
            s.cache_analysis("keep", "dump", b"r" * 1000)
        assert subjects(info.value) == [subject]
        with pytest.raises(ResourceExhausted) as info:
            s.batch_cache_files(
                [FileUpload("x", file_of(600, "x")), FileUpload("y", file_of(600, "y"))]
            )
        assert subjects(info.value) == [subject]
        assert s.batch_get_files(["keep", "big", "x", "y"])[1:] == [None, None, None]
        found = s.get_file("keep")
        assert found is not None
        assert found.content == b"k"
        assert s.get_analysis("keep", "dump") is None
        stats = client.store_stats()
        assert (stats.files, stats.analyses, stats.evictions) == (1, 0, 0)
        s.cache_file("fits", file_of(1000, "fits"))  # exactly the budget fits...
        assert s.get_file("fits") is not None
        assert s.get_file("keep") is None  # ...once the older entry is evicted
    code, (quota,) = wire_error(
        server, "CacheFile", pb.CacheFileRequest(path="big", content=file_of(1001, "big"))
    )
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert [v.subject for v in quota.violations] == [subject]


def test_a_batch_over_the_entry_budget_is_refused(start_server: StartServer) -> None:
    server = start_server(session_entries=2)
    with ContextStoreClient(server.address, timeout=10) as client:
        with pytest.raises(ResourceExhausted) as info:
            client.batch_cache_files([FileUpload(p, b"") for p in "abc"])
        assert subjects(info.value) == ["session_entries"]
        assert client.store_stats().files == 0


# -- overload ------------------------------------------------------------------


def test_calls_beyond_max_concurrent_rpcs_are_refused_not_queued() -> None:
    config = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, workers=1, max_concurrent_rpcs=1)
    store = BlockingStore()
    server = Server(config, store)
    server.start()
    try:
        with ContextStoreClient(server.address, timeout=30) as client:
            held: list[object] = []
            holder = threading.Thread(target=lambda: held.append(client.get_file("p")))
            holder.start()
            assert store.entered.wait(timeout=30)
            with pytest.raises(ResourceExhausted) as info:
                client.server_info()
            assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            with pytest.raises(ResourceExhausted):
                client.cache_file("q", b"x")
            store.release.set()
            holder.join(timeout=30)
            assert held == [None]
            # The slot frees again. grpcio releases it in a callback that may run
            # just after the holder got its reply, so allow a few immediate retries.
            for _ in range(50):
                try:
                    assert client.cache_file("q", b"x").size == 1
                    break
                except ResourceExhausted:
                    continue
            else:
                pytest.fail("the slot was never released")
    finally:
        store.release.set()
        server.stop(grace=0)
