"""Statuses that echo what the caller sent arrive intact, over the wire, for every RPC.

A status travels in HTTP/2 trailers, and a grpcio client refuses trailers past
8 KiB (at random) or 16 KiB (always): the caller then sees RESOURCE_EXHAUSTED
instead of the real status. What callers received before the bounds:

- GetFile of a valid, uncached path of 2048 "é": RESOURCE_EXHAUSTED
  (16,703 bytes of trailers, 12,366 of them the percent-encoded message);
- BatchGetFiles of 200 empty paths: RESOURCE_EXHAUSTED (18,966 bytes);
- BatchGetFiles of 20,000 empty paths: RESOURCE_EXHAUSTED (a 648,888-byte
  message); BatchCacheFiles of 20,000 empty paths: RESOURCE_EXHAUSTED.

Each case below sends the longest input a request may carry, with a raw stub
on a channel with grpcio's default limits, and checks that the real status
arrives, whole and consistent with its details, in trailers under 8 KiB.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from contextstore.server.app import SERVICE_NAME, Server
from contextstore.server.config import ServerConfig
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

SOFT_TRAILER_LIMIT = 8 * 1024  # grpcio's default max_metadata_size
UNRESERVED = "".join(chr(c) for c in range(0x20, 0x7F) if c != ord("%"))
MANY = 20_000
LISTED = 10  # violations a status names (errors.LISTED_VIOLATIONS)

LONGEST_PATH = "é" * 2048  # 4096 bytes: valid
LONGEST_SESSION = "é" * 128  # 256 bytes: valid
LONGEST_TYPE = "é" * 128
BAD_SESSION = "é" * 129  # one character too many
FAR = Timestamp(seconds=253402300800)  # past 9999-12-31
BAD_LABELS = {f"{i:03d}" + "é" * 200: "é" * 3000 for i in range(65)}  # count, key, value


@dataclass(frozen=True)
class Case:
    method: str
    request: Message
    code: grpc.StatusCode
    violations: int = 0  # how many the request has, when INVALID_ARGUMENT


OK_INPUT = {"GetStoreStats", "GetServerInfo"}  # no input, no error to echo it
CASES = {
    # NOT_FOUND messages name the path, type and session the caller sent.
    "GetFile": Case(
        "GetFile",
        pb.GetFileRequest(session_id=LONGEST_SESSION, path=LONGEST_PATH),
        grpc.StatusCode.NOT_FOUND,
    ),
    "GetMetadata": Case(
        "GetMetadata",
        pb.GetMetadataRequest(session_id=LONGEST_SESSION, path=LONGEST_PATH),
        grpc.StatusCode.NOT_FOUND,
    ),
    "GetAnalysis": Case(
        "GetAnalysis",
        pb.GetAnalysisRequest(
            session_id=LONGEST_SESSION, path=LONGEST_PATH, analysis_type=LONGEST_TYPE
        ),
        grpc.StatusCode.NOT_FOUND,
    ),
    # Batches: one violation per item, as many as the caller likes.
    "BatchGetFiles (200)": Case(
        "BatchGetFiles",
        pb.BatchGetFilesRequest(paths=[""] * 200),
        grpc.StatusCode.INVALID_ARGUMENT,
        200,
    ),
    "BatchGetFiles": Case(
        "BatchGetFiles",
        pb.BatchGetFilesRequest(session_id=BAD_SESSION, paths=["\x00"] * MANY),
        grpc.StatusCode.INVALID_ARGUMENT,
        1 + MANY,
    ),
    "BatchCacheFiles": Case(
        "BatchCacheFiles",
        pb.BatchCacheFilesRequest(
            session_id=BAD_SESSION, files=[pb.FileUpload(path="", mtime=FAR)] * MANY
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        1 + 2 * MANY,
    ),
    # Single requests: every violation at once, on the longest fields.
    "CacheFile": Case(
        "CacheFile",
        pb.CacheFileRequest(session_id=BAD_SESSION, path="", mtime=FAR, labels=BAD_LABELS),
        grpc.StatusCode.INVALID_ARGUMENT,
        6,
    ),
    "CacheAnalysis": Case(
        "CacheAnalysis",
        pb.CacheAnalysisRequest(session_id=BAD_SESSION, path="\x00", analysis_type="é" * 129),
        grpc.StatusCode.INVALID_ARGUMENT,
        3,
    ),
    "InvalidateFile": Case(
        "InvalidateFile",
        pb.InvalidateFileRequest(session_id=BAD_SESSION, path="é" * 2049),
        grpc.StatusCode.INVALID_ARGUMENT,
        2,
    ),
    "InvalidateAnalysis": Case(
        "InvalidateAnalysis",
        pb.InvalidateAnalysisRequest(session_id=BAD_SESSION, path="", analysis_type=""),
        grpc.StatusCode.INVALID_ARGUMENT,
        3,
    ),
    "ClearSession": Case(
        "ClearSession",
        pb.ClearSessionRequest(session_id=BAD_SESSION),
        grpc.StatusCode.INVALID_ARGUMENT,
        1,
    ),
    # ABORTED: a failed precondition names the path the caller sent, clipped.
    "CacheFile (precondition)": Case(
        "CacheFile",
        pb.CacheFileRequest(session_id=LONGEST_SESSION, path=LONGEST_PATH, if_sha256=bytes(32)),
        grpc.StatusCode.ABORTED,
    ),
    "BatchCacheFiles (precondition)": Case(
        "BatchCacheFiles",
        pb.BatchCacheFilesRequest(
            session_id=LONGEST_SESSION,
            files=[
                pb.FileUpload(path=f"{i}" + LONGEST_PATH[:2000], if_version=7) for i in range(3)
            ],
        ),
        grpc.StatusCode.ABORTED,
    ),
    "ListFiles": Case(
        "ListFiles",
        pb.ListFilesRequest(
            session_id=BAD_SESSION, path_prefix="\x00" * 2049, page_size=-1, page_token="é" * 4000
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        4,
    ),
    "Watch": Case(
        "Watch",
        pb.WatchRequest(session_id=BAD_SESSION, path_prefix="\x00" * 2049, start_revision=-1),
        grpc.StatusCode.INVALID_ARGUMENT,
        3,
    ),
    "InvalidatePrefix": Case(
        "InvalidatePrefix",
        pb.InvalidatePrefixRequest(session_id=BAD_SESSION, path_prefix=""),
        grpc.StatusCode.INVALID_ARGUMENT,
        2,
    ),
    "GetStats": Case(
        "GetStats",
        pb.GetStatsRequest(session_id=BAD_SESSION),
        grpc.StatusCode.INVALID_ARGUMENT,
        1,
    ),
}


def test_every_rpc_has_a_case() -> None:
    service = pb.DESCRIPTOR.services_by_name["ContextStoreService"]
    assert service.full_name == SERVICE_NAME
    covered = {case.method for case in CASES.values()} | OK_INPUT
    assert covered == set(service.methods_by_name)


@pytest.fixture(scope="module")
def stub() -> Iterator[pb_grpc.ContextStoreServiceStub]:
    # A batch limit that lets 20,000 items through to the per-item checks (by
    # default a batch that long is refused on its count alone), and a channel
    # with grpcio's default limits, as every caller has.
    config = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, max_batch_items=MANY)
    server = Server(config)
    server.start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            yield pb_grpc.ContextStoreServiceStub(channel)
    finally:
        server.stop(grace=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_status_arrives_whole(stub: pb_grpc.ContextStoreServiceStub, name: str) -> None:
    case = CASES[name]
    with pytest.raises(grpc.RpcError) as info:
        answer = getattr(stub, case.method)(case.request, timeout=30)
        if case.method == "Watch":  # a stream: its status comes with its first read
            next(answer)
    error = info.value
    message = error.details() or ""
    assert error.code() == case.code, message
    status = rpc_status.from_call(error)  # raises unless code and message agree
    assert status is not None
    assert trailer_bytes(error) < SOFT_TRAILER_LIMIT
    if case.code == grpc.StatusCode.NOT_FOUND:
        # It names what was sent, each string shortened (head, tail, size),
        # so the message needs no clipping: it ends with the session's size.
        assert "é'...'é" in message and "(4096 bytes)" in message
        assert message.endswith("(256 bytes)")
        return
    if case.code == grpc.StatusCode.ABORTED:
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info)
        assert (info.reason, info.domain) == ("PRECONDITION_FAILED", "contextstore.dev")
        assert info.metadata["current_version"] == "0" and info.metadata["current_sha256"] == ""
        assert LONGEST_PATH.startswith(info.metadata["path"].lstrip("0").removesuffix("..."))
        assert "é'...'é" in message  # the path shortened, as in NOT_FOUND
        return
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    listed = min(case.violations, LISTED)
    assert len(bad_request.field_violations) == listed
    more = case.violations - listed
    counted = re.search(r"; and (\d+) more$", message)
    assert (int(counted.group(1)) if counted else 0) == more
    named = [v.field for v in bad_request.field_violations]
    assert all(field.split(".")[0].split("[")[0] in message for field in named)


def trailer_bytes(error: grpc.RpcError) -> int:
    """Size of the trailers that carried ``error``, as HTTP/2 counts them."""
    fields = {
        "grpc-status": str(error.code().value[0]),
        "grpc-message": quote(error.details() or "", safe=UNRESERVED),
    }
    for item in error.trailing_metadata() or ():
        if item.key == "grpc-status-details-bin":
            fields[item.key] = base64.b64encode(item.value).decode()
    return sum(len(name) + len(value) + 32 for name, value in fields.items())
