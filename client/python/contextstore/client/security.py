"""How a client proves who it is and whom it talks to: TLS settings and a bearer token.

Every channel the package opens (the sync and asyncio clients, the CLI, the
load generator's workers) comes from ``channel`` or ``aio_channel`` here, so
they all speak TLS and send the token the same way:

- ``Tls(ca=, cert=, key=)``: serve-side certificate checked against ``ca``
  (the system roots when absent); ``cert`` and ``key`` present a client
  certificate (mTLS). Files are read when the channel is made, so a missing
  file fails the constructor, not the first call.
- a token goes on every call as ``authorization: Bearer <token>``: as gRPC's
  own call credentials over TLS, and as the same header added by a client
  interceptor on a plaintext channel (where it is readable by anyone on the
  path, so only sensible on loopback or a Unix socket).

gRPC checks a server's certificate against one name per channel: the host of
the target (``localhost:50051``, ``dns:///cache.internal:50051``). A list of
addresses (``10.0.0.1:50051,10.0.0.2:50051``) has no one host, so the list
must name one IP throughout or ``Tls(server_name=...)`` must say which name
every server's certificate carries.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from contextstore.client.targets import is_list

TOKEN_ENV = "CONTEXTSTORE_TOKEN"
# A PEM file is a path; bytes are the PEM text itself.
Pem = str | os.PathLike[str] | bytes
_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = b"PRIVATE KEY-----"


@dataclass(frozen=True, slots=True)
class Tls:
    """TLS settings of a client: each a PEM file path, or the PEM bytes themselves.

    ``ca``: the CA bundle to trust (``None``: the system roots). ``cert`` and
    ``key``: a client certificate and its key, for mTLS; both or neither.
    ``server_name``: the name to check every server's certificate against,
    instead of the target's host (needed for a list of different addresses).
    """

    ca: Pem | None = None
    cert: Pem | None = None
    key: Pem | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("Tls: give cert and key together (a client certificate and its key)")
        if self.server_name == "":
            raise ValueError("Tls: server_name is empty; leave it out to check the target's host")

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """gRPC's credentials, every file read now; ``OSError``/``ValueError`` name the file."""
        ca = None if self.ca is None else _pem(self.ca, "ca", _CERTIFICATE)
        cert = None if self.cert is None else _pem(self.cert, "cert", _CERTIFICATE)
        key = None if self.key is None else _pem(self.key, "key", _PRIVATE_KEY)
        return grpc.ssl_channel_credentials(ca, key, cert)


def _pem(source: Pem, what: str, marker: bytes) -> bytes:
    if isinstance(source, bytes):
        data, name = source, f"the {what} bytes"
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as error:  # same class, saying which setting the file was for
            said = f"TLS {what} file: {error.strerror}"
            raise type(error)(error.errno, said, os.fspath(source)) from None
        name = f"TLS {what} file {os.fspath(source)!r}"
    if marker not in data:
        kind = "private key" if marker == _PRIVATE_KEY else "certificate"
        raise ValueError(f"{name} holds no PEM {kind}")
    return data


def resolve_token(token: str | None) -> str | None:
    """``token``, or ``$CONTEXTSTORE_TOKEN`` when it is ``None``; ``""`` means none.

    A token must be printable ASCII without spaces (a header value gRPC can
    send); the error never repeats the token, which is a secret.
    """
    if token is None:
        token = os.environ.get(TOKEN_ENV, "")
    if not token:
        return None
    check_token(token)
    return token


def check_token(token: str) -> None:
    """``ValueError`` unless gRPC can send ``token`` in a header (the message omits it)."""
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise ValueError("token: must be printable ASCII without spaces")


def _server_name(target: str, tls: Tls) -> list[tuple[str, Any]]:
    """The option naming the host to verify, when the target has no single host."""
    if tls.server_name is not None:
        return [("grpc.ssl_target_name_override", tls.server_name)]
    if not is_list(target):
        return []
    hosts = {address.strip().rpartition(":")[0].strip("[]") for address in target.split(",")}
    if len(hosts) > 1:
        raise ValueError(
            f"target {target!r} lists several addresses over TLS: set Tls(server_name=...) to"
            " the name every server's certificate carries"
        )
    return [("grpc.ssl_target_name_override", hosts.pop())]


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """What a channel is made of: address, options, credentials, header to add."""

    uri: str
    options: Sequence[tuple[str, Any]]
    credentials: grpc.ChannelCredentials | None
    bearer: str | None  # added by an interceptor: a token on a plaintext channel


def plan(
    target: str,
    uri: str,
    options: Sequence[tuple[str, Any]],
    *,
    tls: Tls | None = None,
    token: str | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> ChannelPlan:
    """Decide how to reach ``uri`` (``target`` as gRPC reads it); files are read now.

    ``credentials`` are ready-made channel credentials (instead of ``tls``).
    ``token`` is resolved with ``resolve_token`` (``None``: the environment).
    """
    if tls is not None and credentials is not None:
        raise ValueError("give tls or credentials, not both")
    bearer = resolve_token(token)
    options = list(options)
    if tls is not None:
        credentials = tls.channel_credentials()
        options += _server_name(target, tls)
    if credentials is None:
        return ChannelPlan(uri, options, None, bearer)
    if bearer is not None:
        token_credentials = grpc.access_token_call_credentials(bearer)
        credentials = grpc.composite_channel_credentials(credentials, token_credentials)
    return ChannelPlan(uri, options, credentials, None)


def channel(p: ChannelPlan) -> grpc.Channel:
    if p.credentials is not None:
        return grpc.secure_channel(p.uri, p.credentials, p.options)
    made = grpc.insecure_channel(p.uri, p.options)
    return made if p.bearer is None else grpc.intercept_channel(made, _Bearer(p.bearer))


def aio_channel(p: ChannelPlan) -> grpc.aio.Channel:
    if p.credentials is not None:
        return grpc.aio.secure_channel(p.uri, p.credentials, p.options)
    interceptors = [] if p.bearer is None else [_AioBearer(p.bearer)]
    return grpc.aio.insecure_channel(p.uri, p.options, interceptors=interceptors)


def _with_bearer(metadata: Any, token: str) -> list[tuple[str, str | bytes]]:
    return [*(metadata or ()), ("authorization", f"Bearer {token}")]


@dataclass(frozen=True, slots=True)
class _Details(grpc.ClientCallDetails):
    """``grpc.ClientCallDetails`` is abstract: the fields a sync interceptor hands on."""

    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _Bearer(grpc.UnaryUnaryClientInterceptor):
    """The token's header on every unary call of a plaintext channel (all our RPCs are unary)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:  # fmt: skip
        d: Any = details
        metadata = _with_bearer(d.metadata, self._token)
        new = _Details(
            d.method, d.timeout, metadata, d.credentials, d.wait_for_ready,
            getattr(d, "compression", None),
        )  # fmt: skip
        return continuation(new, request)


class _AioBearer(grpc.aio.UnaryUnaryClientInterceptor):
    """The asyncio twin of ``_Bearer``."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(
        self, continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails, request: Any,
    ) -> Any:  # fmt: skip
        metadata = grpc.aio.Metadata(*_with_bearer(details.metadata, self._token))
        new = grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials,
            details.wait_for_ready,
        )  # fmt: skip
        return await continuation(new, request)
