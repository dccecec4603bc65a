"""Today's BatchGetFiles (``benchmarks/plain.py``): F2's baseline answers as ours does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc
import pytest

from benchmarks import plain, procs
from contextstore.client import ContextStoreClient, FileUpload
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.store.memory import StripedStore
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

PATHS = ["a.py", "missing.py", "b/c.py", "a.py"]
# As the suite's own servers (tests/conftest.py), which ``start_server`` makes ours from;
# not imported: ``conftest`` resolves to another folder's when the whole suite runs.
TEST_CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, max_content_bytes=1 << 20)
StartServer = Callable[..., Server]


def _batch(address: str, paths: list[str]) -> pb.BatchGetFilesResponse:
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        answer: pb.BatchGetFilesResponse = stub.BatchGetFiles(
            pb.BatchGetFilesRequest(session_id="s", paths=paths), timeout=10
        )
        return answer


def test_todays_batch_answers_what_ours_does_over_one_store(
    start_server: StartServer, started: Callable[[Server], Server]
) -> None:
    store = StripedStore()
    ours = start_server(store=store)
    today = started(Server(TEST_CONFIG, store, servicer=plain.PlainServicer))
    with ContextStoreClient(ours.address) as client:
        client.session("s").batch_cache_files(
            [
                FileUpload("a.py", b"one", {"lang": "py"}, datetime(2024, 5, 1, 12, 0, 1, 5, UTC)),
                FileUpload("b/c.py", b"\0two" * 300),
            ]
        )

    expected = _batch(ours.address, PATHS)
    assert _batch(today.address, PATHS) == expected
    assert [f.found for f in expected.files] == [True, False, True, True]
    assert expected.files[0].metadata.labels == {"lang": "py"}


def test_todays_batch_refuses_a_response_over_the_message_limit(
    started: Callable[[Server], Server],
) -> None:
    today = started(Server(TEST_CONFIG, StripedStore(), servicer=plain.PlainServicer))
    with ContextStoreClient(today.address) as client:
        client.session("s").cache_file("big", b"x" * TEST_CONFIG.max_content_bytes)

    # Three of the largest contents are more than one message may carry.
    with pytest.raises(grpc.RpcError) as raised:
        _batch(today.address, ["big"] * 3)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_message_bytes" in (raised.value.details() or "")


def test_todays_batch_runs_as_a_script_with_our_flags() -> None:
    with procs.contextstore_server("--workers", "4", command=procs.PLAIN_SERVER) as server:
        with ContextStoreClient(server.address) as client:
            client.session("s").cache_file("a.py", b"one")
        [file] = _batch(server.address, ["a.py"]).files

    assert (file.found, file.content, file.metadata.size) == (True, b"one", 3)
