"""Figure S1's secured side: mTLS, a bearer token checked against a tokens file, and metrics.

``secured()`` makes real certificates (trustme) and a tokens file in a
temporary folder; ``Secured`` then gives the flags that serve with them, the
flags that make ghz present them, and a typed client for preloading.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

from contextstore.client import ContextStoreClient, Tls

CLIENT_SUBJECT = "bench-client"


@dataclass(frozen=True, slots=True)
class Secured:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    tokens: Path
    token: str

    def server_flags(self) -> tuple[str, ...]:
        """``contextstore serve`` with mTLS, token auth and a metrics endpoint."""
        return (
            "--tls-cert", str(self.server_cert), "--tls-key", str(self.server_key),
            "--tls-client-ca", str(self.ca), "--auth-tokens", str(self.tokens),
            "--metrics-listen", "127.0.0.1:0",
        )  # fmt: skip

    def ghz_flags(self) -> tuple[str, ...]:
        """ghz over mTLS, sending the token on every call."""
        header = json.dumps({"authorization": f"Bearer {self.token}"})
        return (
            "--cacert", str(self.ca), "--cert", str(self.client_cert),
            "--key", str(self.client_key), "--metadata", header,
        )  # fmt: skip

    def client(self, address: str) -> ContextStoreClient:
        tls = Tls(ca=str(self.ca), cert=str(self.client_cert), key=str(self.client_key))
        return ContextStoreClient(address, tls=tls, token=self.token)


@contextmanager
def secured() -> Iterator[Secured]:
    """Certificates and a tokens file (one write identity, matched by its token)."""
    with tempfile.TemporaryDirectory(prefix="contextstore-bench-tls-") as tmp:
        directory = Path(tmp)
        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        client = ca.issue_cert(CLIENT_SUBJECT, common_name=CLIENT_SUBJECT)
        paths = {
            name: directory / f"{name}.pem"
            for name in ("ca", "server", "server-key", "client", "client-key")
        }
        ca.cert_pem.write_to_path(str(paths["ca"]))
        server.cert_chain_pems[0].write_to_path(str(paths["server"]))
        server.private_key_pem.write_to_path(str(paths["server-key"]))
        client.cert_chain_pems[0].write_to_path(str(paths["client"]))
        client.private_key_pem.write_to_path(str(paths["client-key"]))
        token = secrets.token_urlsafe(32)
        tokens = directory / "tokens.toml"
        digest = hashlib.sha256(token.encode()).hexdigest()
        tokens.write_text(
            f'[[identity]]\nname = "bench"\ntoken_sha256 = "{digest}"\nrole = "write"\n',
            encoding="utf-8",
        )
        yield Secured(
            paths["ca"], paths["server"], paths["server-key"], paths["client"],
            paths["client-key"], tokens, token,
        )  # fmt: skip
