"""The CLI's connection: the typed client's calls, run for their raw responses.

The CLI runs the same ``contextstore.client._calls`` values as the typed
clients, so it cannot disagree with them about the wire; it keeps the response
message itself so that ``--json`` prints exactly what ``json_format`` (and so
grpcurl) prints for it, and the full ``google.rpc.Status`` of a failure.
"""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc_status import rpc_status

from contextstore.cli.inputs import UsageError
from contextstore.client import _calls as calls
from contextstore.client import security
from contextstore.client.security import Tls
from contextstore.client.targets import channel_target, with_default_port
from contextstore.v1 import context_store_pb2_grpc as pb_grpc


class RpcFailure(Exception):
    """A call ended with a status other than OK; ``status`` as the server sent it.

    ``said`` is what a person reads, by default ``CODE: message``.
    """

    def __init__(self, status: status_pb2.Status, said: str | None = None) -> None:
        self.status = status
        self.code = _code(status.code)
        super().__init__(said or f"{self.code.name}: {status.message}")

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> RpcFailure:
        # The rich status (with BadRequest or QuotaFailure details) when the
        # server sent one; otherwise code and message, as grpcurl shows them.
        status = rpc_status.from_call(error)
        if status is None:
            code: grpc.StatusCode = error.code()
            status = status_pb2.Status(code=code.value[0], message=error.details() or "")
        return cls(status)


def not_found(what: str) -> RpcFailure:
    said = f"not found: {what}"
    status = status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0], message=said)
    return RpcFailure(status, said)


def _code(number: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


class Connection:
    """One channel to ``target``; ``run`` returns a call's response message.

    ``target`` may list several servers (``10.0.0.1,10.0.0.2:7``, each address
    with port 50051 when it has none): calls take turns over them, as in the
    typed clients; a list gRPC cannot read raises ``UsageError``.

    The channel's message-size limit is ``max_message_bytes`` when given;
    otherwise, for calls that carry payloads (``sized``), the server's own
    advertised ``max_message_bytes``, asked once with GetServerInfo.

    ``tls`` and ``token`` are the typed clients' (``contextstore.client.security``).
    """

    def __init__(
        self, target: str, *, timeout: float, max_message_bytes: int | None,
        tls: Tls | None = None, token: str | None = None,
    ) -> None:  # fmt: skip
        self.target = with_default_port(target)
        try:  # checked now, so a list gRPC cannot read is a usage error, not UNKNOWN later
            uri = channel_target(self.target)
        except ValueError as error:
            raise UsageError(f"--target: {error}") from None
        try:  # certificate files are read now: a missing one is a usage error
            self._plan = security.plan(self.target, uri, [], tls=tls, token=token)
        except (OSError, ValueError) as error:
            raise UsageError(str(error)) from None
        self.timeout = timeout
        self._limit = max_message_bytes
        self._channel: grpc.Channel | None = None
        self._stub: Any = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def run(self, call: calls.Call[Any], *, sized: bool = False) -> Message:
        if self._channel is None:
            self._open(self._limit or (self._server_limit() if sized else None))
        try:
            response: Message = getattr(self._stub, call.method)(call.request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise RpcFailure.from_rpc_error(error) from None
        return response

    def stub(self) -> Any:
        """The channel's stub, for a stream (``watch``): no deadline, default size limit."""
        if self._channel is None:
            self._open(self._limit)
        return self._stub

    def _open(self, limit: int | None) -> None:
        options = calls.channel_options(limit or calls.DEFAULT_MAX_MESSAGE_BYTES)
        plan = dataclasses.replace(self._plan, options=[*self._plan.options, *options])
        self._channel = security.channel(plan)
        self._stub = pb_grpc.ContextStoreServiceStub(self._channel)

    def _server_limit(self) -> int | None:
        """The server's ``max_message_bytes`` (None from a server that does not say)."""
        self._open(None)
        info = self.run(calls.server_info())
        self.close()
        limit: int = info.limits.max_message_bytes  # type: ignore[attr-defined]
        return limit or None
