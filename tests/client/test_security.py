"""TLS, mTLS and bearer tokens through the typed clients, against real TLS servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from certs import Pki
from client.secure_servers import Gate, tokens_file

from contextstore.client import (
    TOKEN_ENV,
    AsyncContextStoreClient,
    ContextStoreClient,
    PermissionDenied,
    Tls,
    Unauthenticated,
    Unavailable,
)
from contextstore.server.app import Server

Start = Callable[..., Server]
CALLS = 40


def _mtls(pki: Pki, subject: str = "agent-7") -> Tls:
    agent = pki.client(subject)
    return Tls(ca=pki.ca_file, cert=agent.cert, key=agent.key)


def test_the_sync_client_speaks_tls_and_sends_its_token(pki: Pki, secure: Start) -> None:
    gate = Gate()
    server = secure(pki, gate=gate)
    with ContextStoreClient(server.address, tls=Tls(ca=pki.ca_file), token="t-1") as client:
        client.session("s").cache_file("a.py", b"x")
        assert client.session("s").get_file("a.py").content == b"x"  # type: ignore[union-attr]
    assert gate.bearers() == {"Bearer t-1"}


def test_mtls_presents_the_client_certificate(pki: Pki, secure: Start) -> None:
    server = secure(pki, mtls=True)
    with ContextStoreClient(server.address, tls=_mtls(pki), timeout=5) as client:
        assert client.server_info().version
    # The same server refuses a client that shows no certificate.
    with (
        ContextStoreClient(server.address, tls=Tls(ca=pki.ca_bytes), timeout=5) as client,
        pytest.raises(Unavailable),
    ):
        client.server_info()


def test_the_server_certificate_is_checked_against_the_ca(
    pki: Pki, secure: Start, tmp_path: Path
) -> None:
    other = Pki.make(tmp_path / "other", "other")
    server = secure(pki)
    with (
        ContextStoreClient(server.address, tls=Tls(ca=other.ca_file), timeout=5) as client,
        pytest.raises(Unavailable),
    ):
        client.server_info()


def test_the_token_comes_from_the_environment_unless_given(
    pki: Pki, secure: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    server = secure(pki, gate=gate)
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    with ContextStoreClient(server.address, tls=Tls(ca=pki.ca_file)) as client:
        client.stats()
    assert gate.bearers() == {"Bearer from-env"}
    gate.seen.clear()
    with ContextStoreClient(server.address, tls=Tls(ca=pki.ca_file), token="") as client:
        client.stats()  # an explicit "" sends none, whatever the environment says
    assert gate.bearers() == {None}


def test_a_plaintext_channel_sends_the_same_header(secure: Start) -> None:
    gate = Gate()
    server = secure(None, gate=gate)
    with ContextStoreClient(server.address, token="plain") as client:
        client.session("s").stats()
        assert client.get_file("nothing") is None

    async def main() -> None:
        async with AsyncContextStoreClient(server.address, token="plain-aio") as aclient:
            await aclient.session("s").stats()

    asyncio.run(main())
    assert gate.bearers() == {"Bearer plain", "Bearer plain-aio"}


def test_the_async_client_over_mtls_with_a_token(pki: Pki, secure: Start) -> None:
    gate = Gate({"w": None})
    server = secure(pki, gate=gate, mtls=True)

    async def main() -> bytes | None:
        async with AsyncContextStoreClient(server.address, tls=_mtls(pki), token="w") as client:
            await client.session("s").cache_file("a.py", b"async")
            got = await client.session("s").get_file("a.py")
            return None if got is None else got.content

    assert asyncio.run(main()) == b"async"
    assert gate.bearers() == {"Bearer w"}


def test_refusals_raise_their_own_errors(pki: Pki, secure: Start) -> None:
    server = secure(pki, gate=Gate({"reader": frozenset({"GetFile"})}))
    tls = Tls(ca=pki.ca_file)
    with (
        ContextStoreClient(server.address, tls=tls, token="stranger") as client,
        pytest.raises(Unauthenticated, match="UNAUTHENTICATED"),
    ):
        client.get_file("a.py")
    with ContextStoreClient(server.address, tls=tls, token="reader") as client:
        assert client.get_file("a.py") is None
        with pytest.raises(PermissionDenied, match="may not call CacheFile"):
            client.cache_file("a.py", b"x")


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
def test_a_list_of_two_tls_servers(pki: Pki, secure: Start, aio: bool) -> None:
    # Both certificates name 127.0.0.1, the one host of the list: each is checked against it.
    gates = Gate(), Gate()
    a, b = (secure(pki, gate=gate, mtls=True) for gate in gates)
    target, tls = f"{a.address},{b.address}", _mtls(pki)
    if aio:

        async def main() -> None:
            async with AsyncContextStoreClient(target, tls=tls, token="t") as client:
                for i in range(CALLS):
                    await client.get_file(f"missing/{i}")

        asyncio.run(main())
    else:
        with ContextStoreClient(target, tls=tls, token="t") as client:
            for i in range(CALLS):
                client.get_file(f"missing/{i}")
    assert [gate.bearers() for gate in gates] == [{"Bearer t"}, {"Bearer t"}]
    assert len(gates[0].seen) + len(gates[1].seen) == CALLS


def test_a_list_of_different_hosts_needs_a_server_name(pki: Pki, secure: Start) -> None:
    # 127.0.0.2 is loopback too, but the server certificate does not name it.
    a, b = secure(pki), secure(pki, listen="127.0.0.2:0")
    target = f"{a.address},{b.address}"
    with pytest.raises(ValueError, match="server_name"):
        ContextStoreClient(target, tls=Tls(ca=pki.ca_file))
    with ContextStoreClient(target, tls=Tls(ca=pki.ca_file, server_name="localhost")) as client:
        for i in range(CALLS):
            client.cache_file(f"f{i}", b"x")
    stats = [_files(pki, server) for server in (a, b)]
    assert min(stats) > 0 and sum(stats) == CALLS


def _files(pki: Pki, server: Server) -> int:
    tls = Tls(ca=pki.ca_file, server_name="localhost")
    with ContextStoreClient(server.address, tls=tls) as client:
        return client.store_stats().files


# -- mistakes are caught at construction ---------------------------------------------


def test_a_missing_ca_file_fails_at_construction(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(FileNotFoundError, match="TLS ca file") as info:
        ContextStoreClient("127.0.0.1:1", tls=Tls(ca=missing))
    assert info.value.filename == str(missing)
    with pytest.raises(FileNotFoundError, match="TLS cert file"):
        AsyncContextStoreClient("127.0.0.1:1", tls=Tls(cert=missing, key=missing))


def test_files_that_are_not_pem_fail_at_construction(pki: Pki) -> None:
    with pytest.raises(ValueError, match=r"ca file .* holds no PEM certificate"):
        ContextStoreClient("127.0.0.1:1", tls=Tls(ca=pki.server.key))
    with pytest.raises(ValueError, match=r"key file .* holds no PEM private key"):
        ContextStoreClient("127.0.0.1:1", tls=Tls(cert=pki.server.cert, key=pki.server.cert))


def test_cert_and_key_go_together(pki: Pki) -> None:
    with pytest.raises(ValueError, match="cert and key together"):
        Tls(cert=pki.server.cert)
    with pytest.raises(ValueError, match="cert and key together"):
        Tls(key=pki.server.key)


@pytest.mark.parametrize("token", ["two words", "tab\there", "line\n", "naïve"])
def test_a_token_grpc_could_not_send_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII") as info:
        ContextStoreClient("127.0.0.1:1", token=token)
    assert token not in str(info.value)


def test_a_dns_target_is_checked_against_its_name(pki: Pki, secure: Start) -> None:
    server = secure(pki)
    port = server.address.rpartition(":")[2]
    with ContextStoreClient(f"dns:///localhost:{port}", tls=Tls(ca=pki.ca_file)) as client:
        assert client.server_info().version


def test_the_servers_own_auth_through_both_clients(pki: Pki, secure: Start, tmp_path: Path) -> None:
    tokens = tokens_file(tmp_path / "tokens.toml", {
        "writer": ("w-secret", "write", ["team-a/"]), "reader": ("r-secret", "read", None),
    })  # fmt: skip
    server = secure(pki, mtls=True, auth_tokens=tokens)
    tls = _mtls(pki, "nobody-in-the-file")
    with ContextStoreClient(server.address, tls=tls, token="w-secret") as writer:
        writer.session("team-a/1").cache_file("a.py", b"x")
        with pytest.raises(PermissionDenied, match="writer"):
            writer.session("team-b/1").cache_file("a.py", b"x")

    async def main() -> None:
        async with AsyncContextStoreClient(server.address, tls=tls, token="r-secret") as reader:
            assert await reader.session("team-a/1").get_file("a.py") is not None
            with pytest.raises(PermissionDenied, match="reader"):
                await reader.session("team-a/1").cache_file("b.py", b"x")
        async with AsyncContextStoreClient(server.address, tls=tls, token="") as nobody:
            with pytest.raises(Unauthenticated):
                await nobody.session("team-a/1").get_file("a.py")

    asyncio.run(main())
