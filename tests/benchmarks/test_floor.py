"""The floor (``benchmarks/floor.py``): our answer's bytes, from grpcio alone."""

from __future__ import annotations

import grpc
import pytest

from benchmarks import floor, procs, service
from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc


def _raw_call(address: str, method: str, request: bytes) -> bytes:
    """A unary call with no (de)serializers: the bytes sent and received, as they are."""
    with grpc.insecure_channel(address) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
        return call(request, timeout=10)


def test_the_floor_runs_with_our_flags_and_answers_getfile_with_fixed_bytes() -> None:
    request = pb.GetFileRequest(session_id=service.SESSION, path=floor.PATH).SerializeToString()
    with procs.contextstore_server("--workers", "4", command=procs.FLOOR_SERVER) as server:
        first = _raw_call(server.address, floor.METHOD, request)
        # Not parsed: any request gets the same answer.
        second = _raw_call(server.address, floor.METHOD, b"not a request")

    assert first == second == floor.response_bytes()
    assert pb.GetFileResponse.FromString(first) == floor.canned_response(floor.PATH, floor.CONTENT)


def test_the_floor_answers_nothing_else() -> None:
    with (
        procs.contextstore_server(command=procs.FLOOR_SERVER) as server,
        pytest.raises(grpc.RpcError) as raised,
    ):
        _raw_call(server.address, "/contextstore.v1.ContextStoreService/GetMetadata", b"")

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_the_floors_answer_is_the_size_of_ours(client: ContextStoreClient, server: Server) -> None:
    client.session(service.SESSION).cache_file(floor.PATH, floor.CONTENT)
    with grpc.insecure_channel(server.address) as channel:
        ours = pb_grpc.ContextStoreServiceStub(channel).GetFile(
            pb.GetFileRequest(session_id=service.SESSION, path=floor.PATH)
        )
    canned = pb.GetFileResponse.FromString(floor.response_bytes())
    # Only varint widths of version and timestamp may differ.
    assert abs(ours.ByteSize() - canned.ByteSize()) <= 4
    assert canned.content == ours.content and canned.metadata.path == ours.metadata.path
    assert canned.metadata.size == ours.metadata.size
