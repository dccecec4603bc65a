"""Calls refused by auth, counted by a server built from its configuration (wiring)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from server.observability.scrape import grpc_labels, scrape, value

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.wiring import build_server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

TOKEN = "reader-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    tokens = tmp_path / "tokens.toml"
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    tokens.write_text(f'[[identity]]\nname = "r"\ntoken_sha256 = "{digest}"\nrole = "read"\n')
    config = ServerConfig(
        listen="127.0.0.1:0", auth_tokens=str(tokens), metrics_listen="127.0.0.1:0"
    )
    server = build_server(config)
    server.start()
    yield server
    server.stop(grace=0)


def _code(call: Any, request: object, token: str | None) -> str:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    try:
        call(request, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return str(error.code().name)
    return "OK"


def test_refusals_are_counted_by_code_in_both_families(server: Server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        write = pb.CacheFileRequest(session_id="s", path="a", content=b"x")
        codes = [
            _code(stub.GetFile, pb.GetFileRequest(session_id="s", path="a"), None),
            _code(stub.GetFile, pb.GetFileRequest(session_id="s", path="a"), "wrong"),
            _code(stub.CacheFile, write, TOKEN),
            _code(stub.GetFile, pb.GetFileRequest(session_id="s", path="a"), TOKEN),
        ]
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND"]

    samples = scrape(server)
    refused = "contextstore_auth_refused_total"
    assert value(samples, refused, grpc_code="UNAUTHENTICATED") == 2
    assert value(samples, refused, grpc_code="PERMISSION_DENIED") == 1
    handled = "grpc_server_handled_total"
    get_file, cache_file = grpc_labels("GetFile"), grpc_labels("CacheFile")
    assert value(samples, handled, **get_file, grpc_code="UNAUTHENTICATED") == 2
    assert value(samples, handled, **get_file, grpc_code="NOT_FOUND") == 1
    assert value(samples, handled, **cache_file, grpc_code="PERMISSION_DENIED") == 1
