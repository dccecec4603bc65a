"""The suite's server-side figures, at a tiny scale: they run and report sanely.

The figures' values are read from ``make bench``, not asserted here: a timed
assertion on a shared machine would test the machine.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from benchmarks import noop, procs, service
from benchmarks.figures import Figure, alternate
from contextstore.bench.localserver import ServerStartError
from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

TINY = service.ServiceScale(rounds=1, unary_calls=400, batch_calls=40, redis_requests=2000)


@pytest.fixture(scope="module")
def protoset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return procs.protoset(tmp_path_factory.mktemp("protoset") / "cs.protoset")


def assert_sane(figure: Figure, key: str) -> None:
    assert figure.key == key
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert figure.ratio == figure.numerator.value / figure.denominator.value
    assert figure.met == figure.target.met_by(figure.ratio)


def test_service_overhead_runs_both_servers(protoset: Path) -> None:
    assert_sane(service.service_overhead(TINY, protoset=protoset), "1")


def test_batch_vs_redis_runs_both_sides(protoset: Path) -> None:
    figure = service.batch_vs_redis(TINY, protoset=protoset)
    assert_sane(figure, "2")
    assert "redis-benchmark" in figure.denominator.what


def test_the_no_op_answer_is_the_size_of_ours(client: ContextStoreClient, server: Server) -> None:
    client.session(service.SESSION).cache_file(noop.PATH, noop.CONTENT)
    with grpc.insecure_channel(server.address) as channel:
        ours = pb_grpc.ContextStoreServiceStub(channel).GetFile(
            pb.GetFileRequest(session_id=service.SESSION, path=noop.PATH)
        )
    canned = noop.canned_response(noop.PATH, noop.CONTENT)
    # Only varint widths of version and timestamp may differ.
    assert abs(ours.ByteSize() - canned.ByteSize()) <= 4
    assert canned.content == ours.content and canned.metadata.path == ours.metadata.path


def test_alternate_flips_the_order_each_round() -> None:
    calls: list[str] = []

    def side(name: str, value: float) -> float:
        calls.append(name)
        return value

    medians = alternate(3, lambda: side("a", 1.0), lambda: side("b", 2.0))
    assert medians == (1.0, 2.0)
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_a_server_that_never_starts_is_reported() -> None:
    with (
        pytest.raises(ServerStartError, match="exited before starting"),
        procs.contextstore_server("--workers", "0"),
    ):
        pass
