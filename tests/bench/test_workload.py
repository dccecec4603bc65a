"""The workload: mix parsing, sizes, key distributions and the pre-built request plan."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from contextstore.bench.prepared import Preload, build_plan
from contextstore.bench.workload import OPS, Payloads, Workload, draw_keys, key_path, parse_mix
from contextstore.v1 import context_store_pb2 as pb


def test_mix_parses_weights_and_splits_analysis() -> None:
    mix = parse_mix("get=80, cache=10,analysis=6,clear=1")

    assert mix == {"get": 80, "cache": 10, "analysis_get": 3, "analysis_put": 3, "clear": 1}


@pytest.mark.parametrize("text", ["get", "gets=1", "get=0", "get=-1,cache=2", ""])
def test_bad_mixes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mix(text)


def test_uniform_keys_are_flat() -> None:
    counts = Counter(draw_keys(Workload(keys=10), random.Random(3), 50_000))

    assert set(counts) == set(range(10))
    assert max(counts.values()) / min(counts.values()) < 1.15


def test_zipf_keys_follow_one_over_rank_to_the_s() -> None:
    workload = Workload(keys=100, distribution="zipf", zipf_s=1.2)

    counts = Counter(draw_keys(workload, random.Random(3), 100_000))

    harmonic = sum(1 / k**1.2 for k in range(1, 101))
    assert counts[0] / 100_000 == pytest.approx(1 / harmonic, rel=0.05)
    assert counts[1] / counts[0] == pytest.approx(2**-1.2, rel=0.1)
    assert counts[0] > 10 * counts[50]


def test_plan_follows_the_mix_weights() -> None:
    workload = Workload(mix=parse_mix("get=70,cache=20,batch_get=10"), keys=50)

    ops = Counter(op for op, _ in build_plan(workload, size=20_000, seed=5))

    assert ops["get"] / 20_000 == pytest.approx(0.7, abs=0.02)
    assert ops["cache"] / 20_000 == pytest.approx(0.2, abs=0.02)
    assert ops["batch_get"] / 20_000 == pytest.approx(0.1, abs=0.02)


def test_plan_requests_are_serialized_for_their_rpc() -> None:
    mix = {op: 1.0 for op in OPS}
    workload = Workload(mix=mix, sessions=2, global_namespace=True, keys=20, batch_size=5)

    plan = build_plan(workload, size=2_000, seed=1)

    sessions = set()
    for op, body in plan:
        message = getattr(pb, OPS[op] + "Request").FromString(body)
        sessions.add(message.session_id if message.HasField("session_id") else None)
        if op == "batch_cache":
            paths = [f.path for f in message.files]
            assert len(paths) == len(set(paths)) == 5  # repeated paths would be refused
    assert sessions == {"bench-0", "bench-1", None}


def test_workers_preload_every_key_once() -> None:
    workload = Workload(mix={"get": 1, "analysis_get": 1}, keys=25, sessions=2)
    paths: Counter[tuple[str, str, str]] = Counter()

    for worker in range(3):
        preload = Preload(
            workload, Payloads(workload), worker=worker, workers=3, max_items=4, max_bytes=1 << 20
        )
        for op, body in preload:
            if op == "batch_cache":
                request = pb.BatchCacheFilesRequest.FromString(body)
                assert len(request.files) <= 4
                paths.update(("file", request.session_id, f.path) for f in request.files)
            else:
                one = pb.CacheAnalysisRequest.FromString(body)
                paths[("analysis", one.session_id, one.path)] += 1

    expected = {
        (kind, s, key_path(k)) for kind in ("file", "analysis") for s in ("bench-0", "bench-1")
        for k in range(25)
    }  # fmt: skip
    assert set(paths) == expected
    assert set(paths.values()) == {1}
