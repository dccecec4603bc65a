"""TLS and mTLS on the server: real servers on port 0, real grpcio channels, real certificates.

Each channel gets its own subchannel pool, so every channel is a new
connection with its own handshake: what a test sees is what the server
presented to that connection, not a connection another channel opened.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from certs import KeyPair, Pki
from support import clean_env, console_script

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.security import tls
from contextstore.server.wiring import credentials
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=0)
WAIT = 30.0
OK = "OK"


@pytest.fixture
def other(tmp_path: Path) -> Pki:
    """An unrelated CA: nothing it signed is trusted by a server or client of ``pki``."""
    return Pki.make(tmp_path / "other", "other")


@dataclasses.dataclass(frozen=True)
class Served:
    """The files a TLS server was started with: the test rewrites them to rotate."""

    cert: Path
    key: Path
    client_ca: Path

    def install(self, pair: KeyPair) -> None:
        """Rotate as cert-manager and most tools do: each file renamed into place."""
        for source, target in ((pair.cert, self.cert), (pair.key, self.key)):
            shutil.copyfile(source, target.with_suffix(".new"))
            os.replace(target.with_suffix(".new"), target)


StartTls = Callable[..., Server]


@pytest.fixture
def served(tmp_path: Path, pki: Pki) -> Served:
    files = Served(tmp_path / "tls.pem", tmp_path / "tls-key.pem", tmp_path / "client-ca.pem")
    files.install(pki.server)
    shutil.copyfile(pki.ca_file, files.client_ca)
    return files


@pytest.fixture
def start_tls(served: Served, start_server: Callable[..., Server]) -> StartTls:
    """Start servers wired from the config, TLS from ``served``; all stopped after the test."""

    def start(*, mtls: bool = False, **overrides: object) -> Server:
        return start_server(
            tls_cert=str(served.cert),
            tls_key=str(served.key),
            tls_client_ca=str(served.client_ca) if mtls else "",
            **overrides,
        )

    return start


def connect(server: Server, ca: bytes | None, client: KeyPair | None = None) -> grpc.Channel:
    """A new connection over TLS trusting ``ca`` (plaintext when None), with ``client``'s cert."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    if ca is None:
        return grpc.insecure_channel(server.address, options=options)
    key, cert = (client.key_bytes, client.cert_bytes) if client else (None, None)
    creds = grpc.ssl_channel_credentials(ca, key, cert)
    return grpc.secure_channel(server.address, creds, options=options)


def outcome(channel: grpc.Channel) -> str:
    """GetServerInfo over ``channel``: OK, or the status code's name."""
    try:
        pb_grpc.ContextStoreServiceStub(channel).GetServerInfo(
            pb.GetServerInfoRequest(), timeout=WAIT
        )
    except grpc.RpcError as error:
        return str(error.code().name)
    return OK


def call(server: Server, ca: bytes | None, client: KeyPair | None = None) -> str:
    with connect(server, ca, client) as channel:
        return outcome(channel)


# -- TLS -----------------------------------------------------------------------


def test_a_client_trusting_the_ca_is_served(start_tls: StartTls, pki: Pki) -> None:
    assert call(start_tls(), pki.ca_bytes) == OK


def test_a_plaintext_client_to_a_tls_server_is_unavailable(start_tls: StartTls, pki: Pki) -> None:
    assert call(start_tls(), None) == "UNAVAILABLE"


def test_a_client_not_trusting_the_ca_is_refused(start_tls: StartTls, other: Pki) -> None:
    assert call(start_tls(), other.ca_bytes) == "UNAVAILABLE"


def test_without_tls_settings_the_server_is_plaintext() -> None:
    assert credentials(CONFIG) is None


# -- mTLS ----------------------------------------------------------------------


def test_mtls_serves_a_client_whose_certificate_the_client_ca_signed(
    start_tls: StartTls, pki: Pki
) -> None:
    assert call(start_tls(mtls=True), pki.ca_bytes, pki.client("agent-7")) == OK


def test_mtls_refuses_a_client_without_a_certificate(start_tls: StartTls, pki: Pki) -> None:
    assert call(start_tls(mtls=True), pki.ca_bytes) == "UNAVAILABLE"


def test_mtls_refuses_a_client_certificate_from_another_ca(
    start_tls: StartTls, pki: Pki, other: Pki
) -> None:
    assert call(start_tls(mtls=True), pki.ca_bytes, other.client("agent-7")) == "UNAVAILABLE"


def test_without_a_client_ca_no_client_certificate_is_asked_for(
    start_tls: StartTls, pki: Pki, other: Pki
) -> None:
    """Plain TLS: a client certificate, even an unknown one, neither helps nor hurts."""
    assert call(start_tls(), pki.ca_bytes, other.client("agent-7")) == OK


# -- rotation: files re-read on change, open connections kept -----------------


def test_a_rotated_certificate_is_served_to_new_connections_and_open_ones_stay(
    start_tls: StartTls, served: Served, pki: Pki, other: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_tls()
    with connect(server, pki.ca_bytes) as before:
        assert outcome(before) == OK
        served.install(other.server)  # signed by another CA: only its clients accept it
        with caplog.at_level(logging.INFO, logger="contextstore.server"):
            assert call(server, other.ca_bytes) == OK
            assert call(server, pki.ca_bytes) == "UNAVAILABLE"
        # Read once, on the first handshake after the change, not on every one.
        assert caplog.text.count("event=tls_reloaded") == 1, caplog.text
        # ``before`` trusts only the first CA: a reconnect would be refused, so
        # its call succeeding shows its connection was kept.
        assert outcome(before) == OK


def test_a_rotated_client_ca_is_used_for_new_connections(
    start_tls: StartTls, served: Served, pki: Pki, other: Pki
) -> None:
    server = start_tls(mtls=True)
    assert call(server, pki.ca_bytes, other.client("agent-7")) == "UNAVAILABLE"
    shutil.copyfile(other.ca_file, served.client_ca)
    assert call(server, pki.ca_bytes, other.client("agent-7")) == OK
    assert call(server, pki.ca_bytes, pki.client("agent-7")) == "UNAVAILABLE"


def test_the_fetcher_rereads_only_when_a_file_changed(served: Served, other: Pki) -> None:
    files = tls.TlsFiles(str(served.cert), str(served.key))
    fetch = tls.Reloader(files, files.facts())
    assert fetch() is None  # unchanged: grpcio keeps what it has
    served.install(other.server)
    assert isinstance(fetch(), grpc.ServerCertificateConfiguration)
    assert fetch() is None  # loaded: not handed over again


def _garbage(served: Served, other: Pki) -> None:
    served.cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")


def _half_rotated(served: Served, other: Pki) -> None:
    shutil.copyfile(other.server.cert, served.cert)  # the new certificate, the old key


def _deleted(served: Served, other: Pki) -> None:
    served.key.unlink()


@pytest.mark.parametrize("damage", [_garbage, _half_rotated, _deleted])
def test_a_broken_file_on_reload_keeps_the_last_good_certificate_and_is_logged_once(
    start_tls: StartTls,
    served: Served,
    pki: Pki,
    other: Pki,
    damage: Callable[[Served, Pki], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start_tls()
    damage(served, other)
    with caplog.at_level(logging.INFO, logger="contextstore.server"):
        assert call(server, pki.ca_bytes) == OK
        assert call(server, pki.ca_bytes) == OK
    failures = [r.getMessage() for r in caplog.records if "event=tls_reload_failed" in r.message]
    assert len(failures) == 1, failures
    # Nothing else complained: grpcio logs a traceback when a fetcher raises.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == failures
    assert "tls_reloaded" not in caplog.text
    # Once the files are whole again, the new pair is served.
    served.install(other.server)
    assert call(server, other.ca_bytes) == OK


# -- start-up errors -----------------------------------------------------------


def _settings(served: Served, **files: Path) -> ServerConfig:
    """TLS with ``served``'s files, ``files`` (tls_cert=..., tls_client_ca=...) replacing them."""
    paths = {"tls_cert": served.cert, "tls_key": served.key, "tls_client_ca": "", **files}
    return dataclasses.replace(
        CONFIG,
        tls_cert=str(paths["tls_cert"]),
        tls_key=str(paths["tls_key"]),
        tls_client_ca=str(paths["tls_client_ca"]),
    )


@pytest.mark.parametrize(
    ("field", "content", "message"),
    [
        ("tls_cert", None, "--tls-cert / CONTEXTSTORE_TLS_CERT: cannot read .*No such file"),
        ("tls_key", None, "--tls-key / CONTEXTSTORE_TLS_KEY: cannot read .*No such file"),
        ("tls_client_ca", None, "--tls-client-ca / CONTEXTSTORE_TLS_CLIENT_CA: cannot read"),
        ("tls_cert", "hello", "--tls-cert / CONTEXTSTORE_TLS_CERT: .* is not a PEM certificate"),
        ("tls_key", "hello", "--tls-key / CONTEXTSTORE_TLS_KEY: .* is not an unencrypted PEM"),
        ("tls_client_ca", "é", "--tls-client-ca / CONTEXTSTORE_TLS_CLIENT_CA: .* is not a PEM"),
    ],
)
def test_an_unusable_file_at_start_is_an_error_naming_the_flag(
    served: Served, tmp_path: Path, field: str, content: str | None, message: str
) -> None:
    bad = tmp_path / "bad.pem"
    if content is not None:
        bad.write_text(content)
    with pytest.raises(ValueError, match=message):
        credentials(_settings(served, **{field: bad}))


def test_a_key_that_is_not_the_certificates_is_an_error_naming_the_key_flag(
    served: Served, other: Pki
) -> None:
    with pytest.raises(ValueError, match=r"--tls-key .* is not the key of the certificate"):
        credentials(_settings(served, tls_key=other.server.key))


def test_serve_with_a_mismatched_key_exits_2_with_one_line_naming_the_flag(
    served: Served, other: Pki
) -> None:
    done = subprocess.run(
        [console_script(), "serve", "--listen", "127.0.0.1:0",
         "--tls-cert", str(served.cert), "--tls-key", str(other.server.key)],
        capture_output=True, text=True, env=clean_env(), timeout=WAIT, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"contextstore serve: --tls-key / CONTEXTSTORE_TLS_KEY: {other.server.key} "
        f"is not the key of the certificate in {served.cert}"
    ]


# -- plaintext off loopback ----------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "local"),
    [
        ("127.0.0.1:50051", True), ("127.3.2.1:0", True), ("[::1]:50051", True),
        ("localhost:50051", True), ("LocalHost:0", True),
        ("unix:/run/contextstore.sock", True), ("unix-abstract:contextstore", True),
        ("0.0.0.0:50051", False), ("[::]:50051", False), ("10.1.2.3:50051", False),
        ("cache.example.com:50051", False),
    ],
)  # fmt: skip
def test_only_loopback_and_unix_sockets_count_as_local(listen: str, local: bool) -> None:
    assert tls.is_loopback(listen) is local


def test_tls_on_any_address_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    config = dataclasses.replace(CONFIG, listen="0.0.0.0:0", tls_cert="c.pem", tls_key="k.pem")
    tls.warn_if_plaintext(config, "0.0.0.0:1234")
    assert "plaintext_listen" not in caplog.text


def serve_output(listen: str) -> str:
    """Everything ``serve --listen LISTEN`` logs from start to a clean stop."""
    with subprocess.Popen(
        [console_script(), "serve", "--listen", listen, "--grace-seconds", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=clean_env(),
    ) as process:  # fmt: skip
        assert process.stderr is not None
        try:
            output = ""
            while "event=started" not in output:
                line = process.stderr.readline()
                assert line, f"exited before starting: {output}"
                output += line
            process.send_signal(signal.SIGTERM)
            # Not communicate(): it reads the pipe itself, past lines buffered here.
            output += process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
        assert process.wait(WAIT) == 0, output
    return output


@pytest.mark.parametrize(("listen", "warned"), [("0.0.0.0:0", True), ("127.0.0.1:0", False)])
def test_plaintext_on_a_non_loopback_address_warns_once_at_start(listen: str, warned: bool) -> None:
    output = serve_output(listen)
    warnings = [line for line in output.splitlines() if "event=plaintext_listen" in line]
    if warned:
        assert len(warnings) == 1, output
        assert "WARNING" in warnings[0] and "anyone who can reach it can read" in warnings[0]
    else:
        assert warnings == [], output
