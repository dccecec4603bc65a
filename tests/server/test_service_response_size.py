"""BatchGetFiles' response size over the wire: a response of exactly
``max_message_bytes`` is served, one byte more is refused with the limit named,
even when the cheap estimate the server makes first says it fits."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

MAX_CONTENT = 1 << 20  # TEST_CONFIG's max_content_bytes
PATHS = ["a", "b"]


@pytest.fixture
def stub(server: Server) -> Iterator[pb_grpc.ContextStoreServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield pb_grpc.ContextStoreServiceStub(channel)


def expected_response(stub: pb_grpc.ContextStoreServiceStub) -> pb.BatchGetFilesResponse:
    """The response BatchGetFiles of ``PATHS`` will send, from single reads
    (reads change no metadata, so the encoding is the same to the byte)."""
    response = pb.BatchGetFilesResponse()
    for path in PATHS:
        got = stub.GetFile(pb.GetFileRequest(path=path), timeout=10)
        response.files.add(path=path, found=True, content=got.content, metadata=got.metadata)
    return response


def cache_to_size(stub: pb_grpc.ContextStoreServiceStub, target: int) -> int:
    """Cache ``PATHS`` so that their BatchGetFiles response encodes to exactly
    ``target`` bytes; returns the bytes of content and paths (the estimate)."""
    stub.CacheFile(pb.CacheFileRequest(path="a", content=b"a" * MAX_CONTENT), timeout=10)
    size_b = target - MAX_CONTENT - 200
    # Each write of "b" takes a new version and cached_at, whose encodings
    # may change length: adjust until the whole is exact.
    for _ in range(10):
        stub.CacheFile(pb.CacheFileRequest(path="b", content=b"b" * size_b), timeout=10)
        size = expected_response(stub).ByteSize()
        if size == target:
            return MAX_CONTENT + size_b + 2 * sum(len(p) for p in PATHS)
        size_b += target - size
    raise AssertionError(f"could not make a response of {target} bytes")


def test_a_response_of_exactly_the_limit_is_served(
    server: Server, stub: pb_grpc.ContextStoreServiceStub
) -> None:
    limit = server.config.max_message_bytes
    cache_to_size(stub, limit)
    response = stub.BatchGetFiles(pb.BatchGetFilesRequest(paths=PATHS), timeout=10)
    assert response.ByteSize() == limit
    assert response == expected_response(stub)


def test_a_response_a_byte_over_is_refused_though_its_estimate_fits(
    server: Server, stub: pb_grpc.ContextStoreServiceStub
) -> None:
    limit = server.config.max_message_bytes
    estimate = cache_to_size(stub, limit + 1)
    assert estimate < limit  # so only the exact check can refuse it
    with pytest.raises(grpc.RpcError) as info:
        stub.BatchGetFiles(pb.BatchGetFilesRequest(paths=PATHS), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(info.value)
    assert status is not None, info.value.details()
    quota = error_details_pb2.QuotaFailure()
    assert status.details[0].Unpack(quota)
    assert [v.subject for v in quota.violations] == ["max_message_bytes"]
    assert f"would be {limit + 1} bytes" in quota.violations[0].description
    # Nothing else is wrong: each file alone is served.
    for path in PATHS:
        assert stub.BatchGetFiles(pb.BatchGetFilesRequest(paths=[path]), timeout=10).files[0].found
