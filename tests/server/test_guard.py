"""Misbehaving clients against a real server: stalled requests, unread responses,
request bytes that do not parse. Each must cost the server a bounded amount,
and well-behaved clients must keep being served."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeAlias

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rawh2 import RawCall

from contextstore.bench.localserver import local_server
from contextstore.client import ContextStoreClient, ResourceExhausted
from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb

WORKERS = 2
DEADLINE = 3.0  # seconds a normal client waits for an answer

MiB = 1 << 20
# What unread responses may add to the server's RSS at the default
# --max-inflight-response-bytes (32 MiB): the held responses, and the copies
# grpc's core makes of them on their way out.
UNREAD_RSS_BOUND = 128 * MiB

StartServer = Callable[..., Server]


@contextlib.contextmanager
def stalled(address: str, count: int) -> Iterator[list[RawCall]]:
    """``count`` GetFile calls that promise a 100-byte request and send 3 bytes."""
    calls = [RawCall(address) for _ in range(count)]
    try:
        for call in calls:
            call.start("GetFile")  # no grpc-timeout: nothing ends them but the server
            call.send_prefix(100, b"\x0a\x01p")
        for call in calls:
            call.ping()  # the server has the stalled calls before the test goes on
        yield calls
    finally:
        for call in calls:
            call.close()


def test_stalled_calls_leave_normal_clients_served(start_server: StartServer) -> None:
    # A receive timeout far past the deadline: normal calls must not depend on it.
    server = start_server(workers=WORKERS, max_concurrent_rpcs=64, receive_timeout_seconds=600)
    with ContextStoreClient(server.address, timeout=DEADLINE) as client:
        client.cache_file("p", b"x")
        with stalled(server.address, 2 * WORKERS):
            assert client.get_file("p") is not None
            with grpc.insecure_channel(server.address) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_stalled_call_is_cancelled_after_the_receive_timeout(start_server: StartServer) -> None:
    server = start_server(workers=WORKERS, receive_timeout_seconds=0.2)
    with stalled(server.address, 1) as (call,):
        outcome = call.wait_end()
    assert outcome.reset or outcome.status == grpc.StatusCode.CANCELLED.value[0], outcome


def _rss(pid: int) -> int:
    """Resident set size of process ``pid``, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _unread(address: str, path: str) -> RawCall:
    """A GetFile of ``path`` whose client never opens its flow-control window."""
    call = RawCall(address, window=0)
    call.unary("GetFile", pb.GetFileRequest(path=path).SerializeToString())
    call.wait_headers()  # refused: trailers-only; admitted: headers, data held back
    return call


def test_unread_responses_are_bounded_in_bytes() -> None:
    with local_server() as server, ContextStoreClient(server.address, timeout=30) as client:
        client.cache_file("4m", b"4" * (4 * MiB))
        client.cache_file("16m", b"6" * (16 * MiB))
        # Warm the paths that allocate once (a served 16 MiB file), then measure.
        assert client.get_file("16m") is not None
        before = _rss(server.pid)
        calls = [_unread(server.address, "4m") for _ in range(16)]
        calls += [_unread(server.address, "16m") for _ in range(8)]
        growth = _rss(server.pid) - before
        statuses = [call.outcome.status for call in calls]
        refused = [c.outcome for c in calls if c.outcome.status is not None]
        print(f"RSS growth {growth / MiB:.0f} MiB; statuses {statuses}")
        assert growth < UNREAD_RSS_BOUND, (growth / MiB, statuses)
        # 32 MiB of 4 MiB responses: seven fit, every other call is refused.
        assert statuses.count(None) == 7, statuses
        assert {o.status for o in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]}
        assert all("--max-inflight-response-bytes" in o.message for o in refused)
        for call in calls:
            call.close()
        # Their bytes are released once the calls end: a large read goes through.
        assert _until_served(client, "16m")


def _until_served(client: ContextStoreClient, path: str) -> bool:
    """Whether a read of ``path`` is served once the server has seen the hang-ups.

    The server learns of each closed connection on its own thread, after the
    close returned here: RESOURCE_EXHAUSTED until then, bounded by the retries.
    """
    for _ in range(500):  # each try is a round trip to the server
        try:
            return client.get_file(path) is not None
        except ResourceExhausted:
            continue
    return False


def test_a_call_holds_its_slot_until_its_response_is_sent(start_server: StartServer) -> None:
    server = start_server(workers=WORKERS, max_concurrent_rpcs=2)
    with ContextStoreClient(server.address, timeout=DEADLINE) as client:
        client.cache_file("p", b"x")
        first, second = _unread(server.address, "p"), _unread(server.address, "p")
        with contextlib.closing(second):
            assert (first.outcome.status, second.outcome.status) == (None, None)  # unsent
            with pytest.raises(ResourceExhausted) as refused:
                client.get_file("p")
            assert "--max-concurrent-rpcs" in str(refused.value)
            first.close()
            assert _until_served(client, "p")


# -- request bytes that do not parse -------------------------------------------

BAD_UTF8 = b"\xff\xfe"
UNPARSEABLE = {
    # method: a request whose string field 2 (path) or 1 is not UTF-8
    "/contextstore.v1.ContextStoreService/GetFile": b"\x12\x02" + BAD_UTF8,
    "/contextstore.v1.ContextStoreService/CacheFile": b"\x12\x02" + BAD_UTF8,
    "/grpc.health.v1.Health/Check": b"\x0a\x02" + BAD_UTF8,
}
Raw: TypeAlias = "grpc.UnaryUnaryMultiCallable[bytes, bytes]"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


def test_unparseable_requests_are_invalid_argument_on_every_service(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    with grpc.insecure_channel(server.address) as channel:
        for method, request in UNPARSEABLE.items():
            call: Raw = channel.unary_unary(method)  # raw bytes: no serializer
            with pytest.raises(grpc.RpcError) as info:
                call(request, timeout=DEADLINE)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
            assert "does not parse" in (info.value.details() or ""), method
        stream: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(REFLECTION)
        with pytest.raises(grpc.RpcError) as info:
            list(stream(iter([b"\x0a\x02" + BAD_UTF8]), timeout=DEADLINE))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # The server keeps serving, the same connection included.
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE).status == 1


def test_unparseable_requests_are_logged_once_per_interval(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    call_count = 50
    with grpc.insecure_channel(server.address) as channel:
        call: Raw = channel.unary_unary("/contextstore.v1.ContextStoreService/GetFile")
        for _ in range(call_count):
            with pytest.raises(grpc.RpcError):
                call(b"\x12\x02" + BAD_UTF8, timeout=DEADLINE)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # The first refusal is logged at once; the rest wait for the next interval.
    assert [r.getMessage().split()[0] for r in records] == ["event=requests_unparseable"]
    assert not any(r.exc_info for r in caplog.records)
    logged = sum(len(r.getMessage()) for r in caplog.records)
    assert logged < 500, logged
