"""Prepared requests: payloads spliced in from one shared buffer, byte for byte what
protobuf serializes, and a plan whose memory does not grow with payloads."""

from __future__ import annotations

import tracemalloc

import pytest

from contextstore.bench.prepared import (
    ANALYSIS_TYPE,
    Preload,
    batch_cache_request,
    build_plan,
    single_request,
)
from contextstore.bench.worker import in_bounded_chunks
from contextstore.bench.workload import Payloads, Workload, key_path, parse_mix
from contextstore.v1 import context_store_pb2 as pb

MiB = 1 << 20
# Sizes either side of each varint width: the lengths in a spliced header must be exact.
SIZES = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]


def _workload(size: int) -> Workload:
    return Workload(mix=parse_mix("cache=1,analysis_put=1,batch_cache=1"), keys=3,
                    payload_bytes=(size, size), batch_size=3)  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("session", ["bench-0", None])
def test_spliced_requests_are_what_protobuf_serializes(size: int, session: str | None) -> None:
    payloads = Payloads(_workload(size))
    content = payloads.content(2)
    assert len(content) == size

    cache = single_request("cache", session, 2, payloads)
    put = single_request("analysis_put", session, 2, payloads)
    batch = batch_cache_request(session, [0, 1, 2], payloads)

    assert not isinstance(cache, bytes) and not isinstance(put, bytes)
    buffer = payloads.buffer
    path = key_path(2)
    expected = pb.CacheFileRequest(session_id=session, path=path, content=content)
    assert cache.join(buffer) == expected.SerializeToString()
    expected_put = pb.CacheAnalysisRequest(
        session_id=session, path=path, analysis_type=ANALYSIS_TYPE, result=content
    )
    assert put.join(buffer) == expected_put.SerializeToString()
    files = [pb.FileUpload(path=key_path(k), content=payloads.content(k)) for k in range(3)]
    expected_batch = pb.BatchCacheFilesRequest(session_id=session, files=files)
    assert batch.join(buffer) == expected_batch.SerializeToString()


def test_a_plan_keeps_no_copy_of_its_payloads() -> None:
    # 64 keys x 2 namespaces x (CacheFile + CacheAnalysis), and 64 pooled batches of 10:
    # kept serialized whole, that is 64 MiB of single requests and 160 MiB of batches.
    workload = Workload(
        mix=parse_mix("get=4,cache=1,analysis_put=1,batch_cache=1,batch_get=1"),
        sessions=2, keys=64, payload_bytes=(256 << 10, 256 << 10), batch_size=10,
    )  # fmt: skip
    tracemalloc.start()
    try:
        plan = build_plan(workload, size=20_000, seed=3)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(plan) == 20_000
    # The 256 KiB buffer and a few hundred bytes per distinct request, nothing per payload.
    assert kept < 4 * MiB, kept
    sent = {op for op, _ in plan}
    assert sent == {"get", "cache", "analysis_put", "batch_cache", "batch_get"}


def test_preload_builds_each_request_as_it_is_taken() -> None:
    workload = Workload(keys=64, payload_bytes=(256 << 10, 256 << 10), sessions=2)
    preload = Preload(workload, Payloads(workload), worker=0, workers=1, max_items=1000,
                      max_bytes=2 * MiB)  # fmt: skip

    tracemalloc.start()
    try:
        kept, _ = tracemalloc.get_traced_memory()
        calls = iter(preload)
        first = next(calls)
        after_one, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # 16 MiB of files per namespace: the first call holds one batch, not every batch.
    assert first[0] == "batch_cache" and len(first[1]) <= 2 * MiB
    assert after_one - kept < 3 * MiB
    assert len(preload) == 1 + sum(1 for _ in calls)


def test_bounded_chunks_keep_order_and_bounds() -> None:
    items = [("cache", b"x" * n) for n in (5, 5, 5, 20, 1, 1, 1, 1, 1)]

    chunks = list(in_bounded_chunks(iter(items), count=3, size=12))

    assert [item for chunk in chunks for item in chunk] == items
    assert [len(chunk) for chunk in chunks] == [2, 1, 1, 3, 2]
    # Over the byte bound only when one item alone is.
    assert all(sum(len(b) for _, b in c) <= 12 or len(c) == 1 for c in chunks)
