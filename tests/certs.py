"""Real certificates for TLS tests, made by ``trustme`` in a test's temporary folder.

    pki = Pki.make(tmp_path)
    server = start_server(tls_cert=str(pki.server.cert), tls_key=str(pki.server.key),
                          tls_client_ca=str(pki.ca_file))
    agent = pki.client("agent-7")          # CN and DNS SAN "agent-7"
    grpc.ssl_channel_credentials(pki.ca_bytes, agent.key_bytes, agent.cert_bytes)

The server certificate names ``localhost`` and ``127.0.0.1``, so clients
verify it against the address they dial. ``Pki.make`` again gives another CA:
a client signed by it must be refused by a server trusting the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class KeyPair:
    """A leaf certificate (chain) and its private key, as PEM files."""

    cert: Path
    key: Path

    @property
    def cert_bytes(self) -> bytes:
        return self.cert.read_bytes()

    @property
    def key_bytes(self) -> bytes:
        return self.key.read_bytes()


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA
    directory: Path
    ca_file: Path
    server: KeyPair

    @classmethod
    def make(cls, directory: Path, name: str = "ca") -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name=f"contextstore tests {name}")
        ca_file = directory / f"{name}.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        pki = cls(ca, directory, ca_file, KeyPair(directory / "x", directory / "x"))
        server = pki.issue("localhost", "127.0.0.1", common_name="localhost", stem=f"{name}-server")
        return cls(ca, directory, ca_file, server)

    @property
    def ca_bytes(self) -> bytes:
        return self.ca_file.read_bytes()

    def client(self, subject: str) -> KeyPair:
        """A client certificate whose CN and DNS SAN are both ``subject``."""
        return self.issue(
            subject, common_name=subject, stem=f"{self.ca_file.stem}-client-{subject}"
        )

    def issue(self, *identities: str, common_name: str | None, stem: str) -> KeyPair:
        leaf = self.ca.issue_cert(*identities, common_name=common_name)
        pair = KeyPair(self.directory / f"{stem}.pem", self.directory / f"{stem}-key.pem")
        leaf.cert_chain_pems[0].write_to_path(str(pair.cert))
        for extra in leaf.cert_chain_pems[1:]:
            extra.write_to_path(str(pair.cert), append=True)
        leaf.private_key_pem.write_to_path(str(pair.key))
        return pair
