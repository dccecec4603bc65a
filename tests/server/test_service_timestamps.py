"""Timestamps over the wire: the mtime range of ``google.protobuf.Timestamp``,
checked at both ends, and times before and at the epoch kept to the nanosecond."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

FIRST = -62135596800  # 0001-01-01T00:00:00Z
LAST = 253402300799  # 9999-12-31T23:59:59Z
OUT_OF_RANGE = {
    "nanos of a whole second": Timestamp(seconds=0, nanos=1_000_000_000),
    "negative nanos": Timestamp(seconds=0, nanos=-1),
    "before year 1": Timestamp(seconds=FIRST - 1, nanos=999_999_999),
    "after year 9999": Timestamp(seconds=LAST + 1),
}
IN_RANGE = {
    "first instant": Timestamp(seconds=FIRST),
    "last instant": Timestamp(seconds=LAST, nanos=999_999_999),
    "epoch": Timestamp(seconds=0, nanos=0),
    "a nanosecond before the epoch": Timestamp(seconds=-1, nanos=999_999_999),
    "1969, mid-second": Timestamp(seconds=-86_400 * 200, nanos=123_456_789),
    "a nanosecond after the epoch": Timestamp(seconds=0, nanos=1),
}


@pytest.fixture
def stub(server: Server) -> Iterator[pb_grpc.ContextStoreServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield pb_grpc.ContextStoreServiceStub(channel)


def refused_fields(call: Callable[..., object], request: Message) -> list[str]:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    status = rpc_status.from_call(info.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    return [v.field for v in bad_request.field_violations]


@pytest.mark.parametrize("mtime", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE)
def test_an_out_of_range_mtime_is_invalid_and_named(
    stub: pb_grpc.ContextStoreServiceStub, mtime: Timestamp
) -> None:
    single = pb.CacheFileRequest(path="p", mtime=mtime)
    assert refused_fields(stub.CacheFile, single) == ["mtime"]
    files = [pb.FileUpload(path="ok"), pb.FileUpload(path="p", mtime=mtime)]
    batch = pb.BatchCacheFilesRequest(files=files)
    assert refused_fields(stub.BatchCacheFiles, batch) == ["files[1].mtime"]
    found = stub.BatchGetFiles(pb.BatchGetFilesRequest(paths=["ok", "p"]), timeout=10)
    assert [f.found for f in found.files] == [False, False]


@pytest.mark.parametrize("mtime", IN_RANGE.values(), ids=IN_RANGE)
def test_an_mtime_in_range_round_trips_to_the_nanosecond(
    stub: pb_grpc.ContextStoreServiceStub, mtime: Timestamp
) -> None:
    written = stub.CacheFile(pb.CacheFileRequest(path="a", mtime=mtime), timeout=10)
    batch = pb.BatchCacheFilesRequest(files=[pb.FileUpload(path="b", mtime=mtime)])
    (batch_written,) = stub.BatchCacheFiles(batch, timeout=10).metadata
    both = stub.BatchGetFiles(pb.BatchGetFilesRequest(paths=["a", "b"]), timeout=10)
    read = [
        stub.GetFile(pb.GetFileRequest(path="a"), timeout=10).metadata,
        stub.GetMetadata(pb.GetMetadataRequest(path="b"), timeout=10).metadata,
        *(f.metadata for f in both.files),
    ]
    for metadata in [written.metadata, batch_written, *read]:
        # An mtime of zero is an mtime all the same: set, not absent.
        assert metadata.HasField("mtime")
        assert (metadata.mtime.seconds, metadata.mtime.nanos) == (mtime.seconds, mtime.nanos)
