"""Watch streams in the server: admission apart from unary calls, and how streams end.

Raw stubs on purpose: these are the server's promises about streams (their
own limit, their own threads, their end on stop), which a resuming typed
client would hide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

StartServer = Callable[..., Server]


def _open(stub: pb_grpc.ContextStoreServiceStub, **request: object) -> Iterator[pb.WatchResponse]:
    """A Watch stream whose first response has arrived: the server runs it."""
    stream = stub.Watch(pb.WatchRequest(**request))  # type: ignore[arg-type]
    assert next(stream).progress
    return stream


def test_open_streams_never_take_a_unary_calls_thread(start_server: StartServer) -> None:
    # Fewer unary threads than streams: if streams shared the pool (or the
    # workers' tokens), these calls would wait for ever behind them.
    server = start_server(max_concurrent_rpcs=2, workers=1, max_watchers=6)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        streams = [_open(stub, session_id=f"w{i}") for i in range(6)]

        def call(i: int) -> int:
            stub.CacheFile(
                pb.CacheFileRequest(session_id="u", path=f"{i}", content=b"x"), timeout=10
            )
            return len(
                stub.GetFile(pb.GetFileRequest(session_id="u", path=f"{i}"), timeout=10).content
            )

        with ThreadPoolExecutor(2) as pool:
            assert sum(pool.map(call, range(40))) == 40
        with pytest.raises(grpc.RpcError) as refused:
            _open(stub)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "--max-watchers" in (refused.value.details() or "")
        for stream in streams:
            stream.cancel()  # type: ignore[attr-defined]


def test_a_stream_cancelled_by_its_client_frees_its_slot(start_server: StartServer) -> None:
    server = start_server(max_watchers=1)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        _open(stub).cancel()  # type: ignore[attr-defined]
        # The server hears of the cancel on its own time: try again until the
        # slot is free, each attempt a real call refused at once, for 10 s.
        deadline = time.monotonic() + 10
        while True:
            try:
                _open(stub).cancel()  # type: ignore[attr-defined]
                break
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert time.monotonic() < deadline, "the cancelled stream kept its slot"


def test_stopping_ends_streams_at_once_with_unavailable(start_server: StartServer) -> None:
    server = start_server(grace_seconds=60)
    with grpc.insecure_channel(server.address) as channel:
        stream = _open(pb_grpc.ContextStoreServiceStub(channel))
        stopped = threading.Thread(target=server.stop)
        stopped.start()
        with pytest.raises(grpc.RpcError) as ended:
            next(stream)
        stopped.join(30)
        assert not stopped.is_alive(), "stop did not wait out its 60 s grace for the stream"
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_stream_ends_after_its_age_limit_once_it_sent_a_change(
    start_server: StartServer,
) -> None:
    server = start_server(watch_max_stream_seconds=1e-6)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        stream = _open(stub, session_id="s")
        stub.BatchCacheFiles(
            pb.BatchCacheFilesRequest(session_id="s", files=[pb.FileUpload(path="a", content=b"1")])
        )
        stub.CacheFile(pb.CacheFileRequest(session_id="s", path="b", content=b"2"))
        first = next(stream)
        with pytest.raises(grpc.RpcError) as ended:
            next(stream)
    assert [e.path for e in first.events] == ["a"]
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "watch_max_stream_seconds" in (ended.value.details() or "")


def test_a_prefix_filters_entry_events_but_not_session_events(server: Server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        stream = _open(stub, session_id="p", path_prefix="src/")
        for path in ("docs/a", "src/b"):
            stub.CacheFile(pb.CacheFileRequest(session_id="p", path=path, content=b"x"))
        stub.ClearSession(pb.ClearSessionRequest(session_id="p"))
        got = [next(stream), next(stream)]
        stream.cancel()  # type: ignore[attr-defined]
    assert [[(e.kind, e.path) for e in r.events] for r in got] == [
        [(pb.WATCH_EVENT_KIND_FILE_CACHED, "src/b")],
        [(pb.WATCH_EVENT_KIND_SESSION_CLEARED, "")],
    ]
