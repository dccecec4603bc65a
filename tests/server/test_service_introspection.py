"""Introspection over the wire: GetStats, GetServerInfo, health and reflection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from support import FakeClock

from contextstore.client import ContextStoreClient
from contextstore.server import __version__
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.store.memory import StripedStore
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

StartServer = Callable[..., Server]

SERVICE = "contextstore.v1.ContextStoreService"


@pytest.fixture
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as ch:
        yield ch


# -- stats ---------------------------------------------------------------------


def test_stats_whole_store_versus_one_namespace(client: ContextStoreClient) -> None:
    client.cache_file("g", b"12345", labels={"k": "vv"})
    s1 = client.session("s1")
    s1.cache_file("a", b"1")
    s1.cache_file("b", b"22")
    s1.cache_analysis("a", "lint", b"333")

    whole = client.store_stats()
    assert (whole.files, whole.analyses, whole.sessions) == (3, 1, 2)
    glob = client.stats()
    assert (glob.files, glob.analyses, glob.sessions) == (1, 0, 1)
    assert glob.bytes == len(b"12345") + len("g") + len("k") + len("vv")
    one = s1.stats()
    assert (one.files, one.analyses, one.sessions) == (2, 1, 1)
    assert one.bytes == (1 + 1) + (2 + 1) + (3 + 1 + len("lint"))
    assert whole.bytes == glob.bytes + one.bytes
    # Any handle reaches the whole store through store_stats().
    assert s1.store_stats() == whole
    assert client.session("unknown").stats().sessions == 0


def test_hits_and_misses_are_counted_per_namespace(client: ContextStoreClient) -> None:
    s = client.session("h")
    s.cache_file("a", b"x")
    s.cache_analysis("a", "lint", b"l")
    s.get_file("a")  # hit
    s.get_metadata("a")  # hit
    s.get_analysis("a", "lint")  # hit
    s.get_file("b")  # miss
    s.get_analysis("a", "types")  # miss
    s.batch_get_files(["a", "b", "c", "a"])  # hit, miss, miss, hit: never as many of each
    stats = s.stats()
    assert (stats.hits, stats.misses) == (5, 4)
    assert (client.stats().hits, client.stats().misses) == (0, 0)
    whole = client.store_stats()
    assert (whole.hits, whole.misses) == (5, 4)
    s.clear_session()  # a cleared namespace starts again from zero
    s.cache_file("a", b"x")
    assert (s.stats().hits, s.stats().misses) == (0, 0)


def test_an_empty_batch_registers_no_session(client: ContextStoreClient) -> None:
    # Before: sessions grew by one per empty BatchCacheFiles, nothing stored.
    for name in ("e1", "e2"):
        assert client.session(name).batch_cache_files([]) == []
    assert client.batch_cache_files([]) == []
    assert client.store_stats().sessions == 0
    assert client.session("e1").stats().sessions == 0


def test_stats_responses_carry_exactly_their_own_fields(channel: grpc.Channel) -> None:
    # Stats counts stale analyses dropped, for metrics; the responses have no
    # such field and must stay what they were (before: INTERNAL, as the copy
    # tried to set it).
    stub = pb_grpc.ContextStoreServiceStub(channel)
    stub.CacheFile(pb.CacheFileRequest(session_id="s", path="a", content=b"v1"))
    stub.CacheAnalysis(pb.CacheAnalysisRequest(session_id="s", path="a", analysis_type="t"))
    stub.CacheFile(pb.CacheFileRequest(session_id="s", path="a", content=b"v2"))  # drops it
    stub.BatchGetFiles(pb.BatchGetFilesRequest(session_id="s", paths=["a", "b"]))
    one = stub.GetStats(pb.GetStatsRequest(session_id="s"))
    assert one == pb.GetStatsResponse(files=1, bytes=3, sessions=1, hits=1, misses=1)
    whole = stub.GetStoreStats(pb.GetStoreStatsRequest())
    assert whole == pb.GetStoreStatsResponse(
        files=1, bytes=3, sessions=1, hits=1, misses=1, held_bytes=3
    )


def test_stats_report_expired_sessions() -> None:
    clock = FakeClock(0.0)
    config = ServerConfig(listen="127.0.0.1:0", grace_seconds=1.0, session_ttl_seconds=60.0)
    server = Server(config, StripedStore(stripes=4, budgets=config.budgets, timer=clock))
    server.start()
    try:
        with ContextStoreClient(server.address, timeout=10) as client:
            for name in ("idle1", "idle2"):
                client.session(name).cache_file("a", b"x")
            client.session("idle1").get_file("a")
            clock.now = 60.0
            whole = client.store_stats()
            assert (whole.expirations, whole.sessions, whole.files) == (2, 0, 0)
            assert (whole.hits, whole.misses) == (1, 0)
            assert client.session("idle1").stats() == client.session("never").stats()
    finally:
        server.stop(grace=0)


# -- server info, health, reflection -------------------------------------------


def test_server_info_reports_the_configured_limits(start_server: StartServer) -> None:
    server = start_server(
        stripes=8,
        max_batch_items=7,
        max_labels=3,
        max_label_key_bytes=11,
        max_label_value_bytes=22,
        total_bytes=123_456,
        session_bytes=9_999,
        session_entries=5,
        session_ttl_seconds=90.5,
        max_concurrent_rpcs=33,
    )
    with ContextStoreClient(server.address, timeout=10) as client:
        info = client.server_info()
    assert (info.version, info.backend) == (__version__, "memory")
    assert info.backend_properties["stripes"] == "8"
    lim = info.limits
    assert lim.max_content_bytes == 1 << 20
    assert lim.max_message_bytes == (1 << 20) + (1 << 20)
    assert (lim.max_batch_items, lim.max_labels) == (7, 3)
    assert (lim.max_label_key_bytes, lim.max_label_value_bytes) == (11, 22)
    assert (lim.max_path_bytes, lim.max_session_id_bytes, lim.max_analysis_type_bytes) == (
        4096,
        256,
        256,
    )
    assert (lim.total_bytes, lim.session_bytes, lim.session_entries) == (123_456, 9_999, 5)
    assert lim.session_ttl == timedelta(seconds=90.5)
    assert lim.max_concurrent_rpcs == 33


def test_server_info_zero_ttl_means_never(start_server: StartServer) -> None:
    server = start_server(session_ttl_seconds=0)
    with ContextStoreClient(server.address, timeout=10) as client:
        assert client.server_info().limits.session_ttl == timedelta(0)


def test_health_reports_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as info:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def _reflect(channel: grpc.Channel, **request: str) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = iter([reflection_pb2.ServerReflectionRequest(**request)])
    (reply,) = list(stub.ServerReflectionInfo(requests, timeout=10))
    return reply


def test_reflection_lists_services(channel: grpc.Channel) -> None:
    reply = _reflect(channel, list_services="")
    names = {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


def test_reflection_describes_the_service(channel: grpc.Channel) -> None:
    reply = _reflect(channel, file_containing_symbol=SERVICE)
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in reply.file_descriptor_response.file_descriptor_proto
    ]
    ours = next(f for f in files if f.package == "contextstore.v1")
    assert ours.name == "contextstore/v1/context_store.proto"
    (service,) = ours.service
    methods = {m.name for m in service.method}
    contract = pb.DESCRIPTOR.services_by_name["ContextStoreService"]
    assert methods == {m.name for m in contract.methods}  # every RPC, as the server was built
