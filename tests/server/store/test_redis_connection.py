"""How the Redis backend connects and what it checks at start: backend-only promises.

Private ``redis-server`` processes, each set up as a user's might be: TLS with
certificates made here (trustme), an ACL user, a small ``proto-max-bulk-len``,
a Redis that lost our functions, no ``maxmemory``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from contextstore.server.config import ServerConfig
from contextstore.server.errors import BackendUnavailable
from contextstore.server.store.base import FileWrite
from contextstore.server.store.redis import RedisStore, Settings
from contextstore.server.store.redis.checks import check_server
from contextstore.server.store.registry import open_store
from devtools.procs import free_port
from devtools.redis_nodes import RedisNode, start_standalone


def _store(url: str) -> RedisStore:
    return RedisStore(Settings(url, timeout_seconds=5.0, connections=4), key_prefix="conn:")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RedisNode]:
    with start_standalone(tmp_path) as started:
        yield started


def test_rediss_with_the_ca_in_the_url(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_pem, cert_pem, key_pem = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    tls_port = free_port()
    tls = {
        "tls-port": str(tls_port),
        "tls-cert-file": str(cert_pem),
        "tls-key-file": str(key_pem),
        "tls-ca-cert-file": str(ca_pem),
        "tls-auth-clients": "no",
    }
    with start_standalone(tmp_path, settings=tls):
        store = _store(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={ca_pem}")
        try:
            store.cache_file("s", FileWrite("a", b"over tls"))
            got = store.get_file("s", "a")
            assert got is not None and got.content == b"over tls"
        finally:
            store.close()
        # The same port without the CA: the server's certificate is not trusted.
        with pytest.raises(BackendUnavailable, match="redis backend is unavailable"):
            _store(f"rediss://127.0.0.1:{tls_port}/0")


def test_an_acl_user_from_the_url(node: RedisNode) -> None:
    node.client().acl_setuser(
        "agent", enabled=True, passwords=["+s3cret"], keys=["*"], channels=["*"],
        commands=["+@all"],
    )  # fmt: skip
    store = _store(f"redis://agent:s3cret@127.0.0.1:{node.port}/0")
    try:
        store.cache_file(None, FileWrite("a", b"x"))
        assert store.stats(None).files == 1
    finally:
        store.close()
    with pytest.raises(BackendUnavailable, match="redis backend is unavailable"):
        _store(f"redis://agent:wrong@127.0.0.1:{node.port}/0")


def test_functions_are_loaded_again_when_redis_lost_them(node: RedisNode) -> None:
    store = _store(node.url)
    try:
        store.cache_file("s", FileWrite("a", b"x"))
        node.client().function_flush()  # as after a restart without persistence
        assert store.get_file("s", "a") is not None
    finally:
        store.close()


def test_content_larger_than_redis_accepts_is_refused_at_start(node: RedisNode) -> None:
    node.client().config_set("proto-max-bulk-len", 1024 * 1024)
    config = ServerConfig(backend="redis", redis_url=node.url, max_content_bytes=2 * 1024 * 1024)
    with pytest.raises(ValueError, match="proto-max-bulk-len 1048576"):
        open_store(config)
    store = open_store(ServerConfig(backend="redis", redis_url=node.url, max_content_bytes=65536))
    store.close()


def test_start_warns_when_redis_is_unbounded_or_refuses_when_full(
    node: RedisNode, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(node.url)
    try:
        with caplog.at_level(logging.WARNING, "contextstore.server"):
            check_server(store.client, max_content_bytes=1024)
            node.client().config_set("maxmemory", "64mb")  # policy noeviction, Redis's default
            check_server(store.client, max_content_bytes=1024)
            node.client().config_set("maxmemory-policy", "allkeys-lru")
            check_server(store.client, max_content_bytes=1024)
        events = [r.getMessage().split()[0] for r in caplog.records]
        assert events == ["event=redis_unbounded", "event=redis_refuses_when_full"]
    finally:
        store.close()


def test_cluster_mode_is_detected_from_any_node(redis_cluster: object, node: RedisNode) -> None:
    nodes = redis_cluster.nodes  # type: ignore[attr-defined]
    for url in (nodes[-1].url, node.url):
        store = _store(url)
        try:
            assert store.properties["mode"] == ("standalone" if url == node.url else "cluster")
        finally:
            store.close()


def test_an_unreachable_redis_is_unavailable_at_once() -> None:
    with pytest.raises(BackendUnavailable, match="redis backend is unavailable"):
        _store(f"redis://127.0.0.1:{free_port()}/0")


def test_a_file_of_the_largest_allowed_size_round_trips(node: RedisNode) -> None:
    store = open_store(
        ServerConfig(backend="redis", redis_url=node.url, max_content_bytes=16 * 1024 * 1024)
    )
    try:
        content = bytes(range(256)) * (16 * 1024 * 1024 // 256)
        meta = store.cache_file("s", FileWrite("big.bin", content, {"k": "v"}, mtime_ns=7))
        got = store.get_file("s", "big.bin")
        assert got is not None and got.content == content and got.metadata == meta
        assert store.get_metadata("s", "big.bin") == meta  # read without the content
    finally:
        store.close()
