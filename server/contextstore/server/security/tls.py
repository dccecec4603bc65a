"""TLS and mTLS for the server, with certificates re-read when their files change.

grpcio's dynamic server credentials ask a fetcher for the certificate before
every new handshake. The fetcher here only compares ``os.stat`` facts of the
files with those last loaded (three syscalls, under the GIL, on every new
connection) and re-reads only when one changed. Open connections keep the
certificate they were made with: nothing is dropped on a rotation.

What is loaded is checked first with the standard library's ``ssl`` (the
certificate parses, the key parses and matches it, the client CA parses), so a
mistake at start is a ValueError naming the flag, and a half-written pair on
reload keeps the last good one in service and is logged once per change.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import ssl
from dataclasses import dataclass

import grpc

from contextstore.server.config import ServerConfig, setting_name
from contextstore.server.listen import is_unix

log = logging.getLogger("contextstore.server")

# Of one file: (mtime_ns, size, inode), or the error that stat raised.
Facts = tuple[tuple[int, int, int] | str, ...]


@dataclass(frozen=True, slots=True)
class Material:
    """The PEM bytes grpcio serves: a certificate chain, its key, the client CA (mTLS)."""

    cert: bytes
    key: bytes
    client_ca: bytes | None

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self.key, self.cert)], root_certificates=self.client_ca
        )


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the server's TLS material lives, as the flags name it."""

    cert: str
    key: str
    client_ca: str = ""

    @classmethod
    def of(cls, config: ServerConfig) -> TlsFiles:
        return cls(config.tls_cert, config.tls_key, config.tls_client_ca)

    def facts(self) -> Facts:
        """What changes when a file is rewritten or replaced; never raises."""
        return tuple(_stat(path) for path in (self.cert, self.key, self.client_ca) if path)

    def load(self) -> Material:
        """Read and check every file; ValueError naming the flag of the first bad one."""
        material = self._read()
        self._check(material)
        # The checks read the files again: a writer between the two reads would
        # make us serve a pair nobody checked.
        if self._read() != material:
            raise ValueError("the TLS files changed while being read")
        return material

    def _read(self) -> Material:
        ca = _read(self.client_ca, "tls_client_ca") if self.client_ca else None
        return Material(_read(self.cert, "tls_cert"), _read(self.key, "tls_key"), ca)

    def _check(self, material: Material) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        _check_certificates(material.cert, "tls_cert", self.cert)
        if material.client_ca is not None:
            _check_certificates(material.client_ca, "tls_client_ca", self.client_ca)
        try:
            # An encrypted key fails here instead of prompting on the terminal.
            context.load_cert_chain(self.cert, self.key, password=lambda: b"")
        except ssl.SSLError as error:
            if error.reason == "KEY_VALUES_MISMATCH":
                raise ValueError(
                    f"{setting_name('tls_key')}: {self.key} is not the key of the certificate "
                    f"in {self.cert}"
                ) from None
            raise ValueError(
                f"{setting_name('tls_key')}: {self.key} is not an unencrypted PEM private key"
            ) from None
        except OSError as error:  # gone since it was read
            name = setting_name("tls_key")
            raise ValueError(f"{name}: cannot read {self.key}: {error.strerror}") from None


def _stat(path: str) -> tuple[int, int, int] | str:
    try:
        s = os.stat(path)
    except OSError as error:
        return type(error).__name__
    return (s.st_mtime_ns, s.st_size, s.st_ino)


def _read(path: str, field: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"{setting_name(field)}: cannot read {path}: {reason}") from None


def _check_certificates(pem: bytes, field: str, path: str) -> None:
    """At least one PEM certificate, and nothing that fails to parse."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cadata=pem.decode("ascii"))
    except (ssl.SSLError, ValueError):  # UnicodeDecodeError is a ValueError
        raise ValueError(f"{setting_name(field)}: {path} is not a PEM certificate") from None


class Reloader:
    """The fetcher grpcio calls before every handshake: a new configuration, or None."""

    def __init__(self, files: TlsFiles, facts: Facts) -> None:
        self.files = files
        self._loaded = facts
        self._failed: Facts | None = None

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        facts = self.files.facts()
        if facts == self._loaded or facts == self._failed:
            return None
        try:
            material = self.files.load()
        except Exception as error:  # never out of the fetcher: grpcio would fail the handshake
            self._failed = facts
            log.warning(
                "event=tls_reload_failed error=%s keeping=previous_certificate",
                json.dumps(str(error)),
            )
            return None
        self._loaded, self._failed = facts, None
        log.info("event=tls_reloaded cert=%s", json.dumps(self.files.cert))
        return material.configuration()


def server_credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    """TLS (mTLS with a client CA) re-read on change; None when no certificate is configured."""
    if not config.tls_cert:
        return None
    files = TlsFiles.of(config)
    facts = files.facts()  # before reading: a change during the load is seen next time
    material = files.load()
    return grpc.dynamic_ssl_server_credentials(
        material.configuration(),
        # types-grpcio leaves out the None ("no change") that grpcio documents.
        Reloader(files, facts),  # type: ignore[arg-type]
        require_client_authentication=bool(config.tls_client_ca),
    )


def is_loopback(listen: str) -> bool:
    """Only this machine can connect: a loopback address, localhost, or a unix socket."""
    if is_unix(listen):
        return True
    host = listen.rsplit(":", 1)[0].removeprefix("[").removesuffix("]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def warn_if_plaintext(config: ServerConfig, address: str) -> None:
    """One WARNING when a plaintext server listens where other machines can reach it."""
    if config.tls_cert or is_loopback(config.listen):
        return
    log.warning(
        "event=plaintext_listen listen=%s message=%s",
        address,
        json.dumps(
            "serving plaintext on a non-loopback address: anyone who can reach it can read "
            "every call, tokens included; give --tls-cert and --tls-key"
        ),
    )
