"""The blocking client's own behaviour: lifecycle, handles, deadlines, errors."""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

import grpc
import pytest

from contextstore.client import (
    DEFAULT_TIMEOUT,
    ContextStoreClient,
    ContextStoreError,
    DeadlineExceeded,
    InvalidArgument,
    ResourceExhausted,
    ServerError,
    Unavailable,
)
from contextstore.server.app import Server

if TYPE_CHECKING:
    from support import BlockingStore


def test_context_manager_closes_the_channel(server: Server) -> None:
    with ContextStoreClient(server.address, timeout=10) as client:
        assert client.server_info().backend == "memory"
    with pytest.raises(ValueError, match="closed channel"):
        client.server_info()


def test_a_session_handle_shares_the_channel(server: Server) -> None:
    client = ContextStoreClient(server.address, timeout=10)
    handle = client.session("s")
    assert (client.session_id, handle.session_id) == (None, "s")
    handle.cache_file("p", b"via handle")
    with handle:  # closing a handle leaves the shared channel open...
        pass
    handle.close()
    found = client.session("s").get_file("p")
    assert found is not None
    assert found.content == b"via handle"
    found = handle.get_file("p")
    assert found is not None
    assert found.content == b"via handle"
    client.close()  # ...closing the owner closes it for every handle
    with pytest.raises(ValueError, match="closed channel"):
        handle.get_file("p")


def test_handles_rebind_without_nesting(client: ContextStoreClient) -> None:
    nested = client.session("a").session("b")
    assert nested.session_id == "b"
    nested.cache_file("p", b"b")
    assert client.session("a").get_file("p") is None
    assert client.session("a").session(None).session_id is None
    found = client.session("b").get_file("p")
    assert found is not None
    assert found.content == b"b"


def test_default_deadline_raises_deadline_exceeded(
    blocking_server: Server, blocking_store: BlockingStore
) -> None:
    store = blocking_store
    with ContextStoreClient(blocking_server.address, timeout=0.2) as client:
        with pytest.raises(DeadlineExceeded) as info:
            client.get_file("p")
        assert store.entered.wait(timeout=10)  # the call reached the store, cut off there
        assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        store.release.set()
        assert client.cache_file("p", b"x").size == 1  # the client is still usable


def test_per_call_timeout_overrides_the_default(
    blocking_server: Server, blocking_store: BlockingStore
) -> None:
    store = blocking_store
    with ContextStoreClient(blocking_server.address, timeout=60) as client:
        with pytest.raises(DeadlineExceeded):
            client.get_file("p", timeout=0.2)
        store.release.set()
        assert client.get_file("p", timeout=5) is None


def test_default_timeout_is_used_when_none_given(server: Server) -> None:
    assert DEFAULT_TIMEOUT == 10.0
    with ContextStoreClient(server.address) as client:
        assert client.get_file("p") is None


def test_unavailable_for_a_dead_address(dead_address: str) -> None:
    with ContextStoreClient(dead_address, timeout=10) as client:
        with pytest.raises(Unavailable) as info:
            client.get_file("p")  # a read: retried by the channel, then given up
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(Unavailable):
            client.cache_file("p", b"x")  # a write: never retried
        with pytest.raises(Unavailable):
            client.server_info()


def test_server_bug_is_a_server_error(failing_server: Server) -> None:
    with ContextStoreClient(failing_server.address, timeout=10) as client:
        with pytest.raises(ServerError) as info:
            client.get_metadata("p")
        assert info.value.code == grpc.StatusCode.INTERNAL
        assert "store bug" not in info.value.message  # internals stay in the server log
        client.cache_file("p", b"x")  # the server keeps serving
        found = client.get_file("p")
        assert found is not None
        assert found.content == b"x"


def test_errors_carry_code_message_and_violations(client: ContextStoreClient) -> None:
    with pytest.raises(ContextStoreError) as info:
        client.cache_file("", b"x")
    error = info.value
    assert isinstance(error, InvalidArgument)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "path" in error.message
    assert str(error).startswith("INVALID_ARGUMENT: ")
    ((subject, description),) = [(v.subject, v.description) for v in error.violations]
    assert (subject, description) == ("path", "must not be empty")


def test_errors_chain_the_grpc_error_with_its_debug_string(client: ContextStoreClient) -> None:
    with pytest.raises(InvalidArgument) as info:
        client.cache_file("", b"x")
    cause = info.value.__cause__
    assert isinstance(cause, grpc.RpcError) and isinstance(cause, grpc.Call)
    assert cause.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "path" in (cause.debug_error_string() or "")


def test_client_message_limit_applies_both_ways(server: Server) -> None:
    with ContextStoreClient(server.address, timeout=10, max_message_bytes=4096) as small:
        with pytest.raises(ResourceExhausted):
            small.cache_file("big", b"x" * 8192)  # refused before sending
        with ContextStoreClient(server.address, timeout=10) as big:
            big.cache_file("big", b"x" * 8192)
        with pytest.raises(ResourceExhausted):
            small.get_file("big")  # refused on receipt
        metadata = small.get_metadata("big")
        assert metadata is not None
        assert metadata.size == 8192


def test_returned_values_are_frozen(client: ContextStoreClient) -> None:
    meta = client.cache_file("p", b"x", labels={"k": "v"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.size = 3  # type: ignore[misc]
    assert meta == client.get_metadata("p")


def test_one_client_serves_many_threads(client: ContextStoreClient) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            s = client.session(f"t{i}")
            for j in range(20):
                s.cache_file(f"f{j}", f"{i}:{j}".encode())
            got = s.batch_get_files([f"f{j}" for j in range(20)])
            assert [f and f.content for f in got] == [f"{i}:{j}".encode() for j in range(20)]
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert client.store_stats().files == 160
