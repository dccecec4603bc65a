"""Where domain errors become gRPC statuses: one table, one wrapper.

``STATUS`` gives every ``ContextStoreError`` its status code and the detail
that goes with it; ``rpc`` wraps a servicer method, unary or server-streaming,
so an error raised in it (or, for a stream, while it yields) reaches the
caller through that table, and anything else is reported as INTERNAL with the
trace in the log, never as UNKNOWN.

Every status is bounded (see ``contextstore.server.errors``): its message to
``MAX_MESSAGE_BYTES``, its detail to ``LISTED_VIOLATIONS`` entries of at most
``MAX_FIELD_BYTES`` and ``MAX_DESCRIPTION_BYTES``, so that it fits the
trailers every client accepts, whatever the caller sent.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from contextstore.server.errors import (
    MAX_MESSAGE_BYTES,
    BackendUnavailable,
    ContextStoreError,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    RevisionCompacted,
    StreamInterrupted,
    clip,
)

log = logging.getLogger("contextstore.server")

Method = TypeVar("Method", bound=Callable[..., Any])
Detail = Callable[[Any], Message | None]

MAX_FIELD_BYTES = 64
"""Longest field name (or quota subject) in a detail, as ``errors.wire_bytes``."""
MAX_DESCRIPTION_BYTES = 128
"""Longest description in a detail. Ten violations at both bounds and the
longest message come to under 5.5 KiB of trailers: the message, then the
whole status (message included) base64-encoded in ``grpc-status-details-bin``."""


def _bad_request(error: InvalidArgument) -> Message:
    detail: Message = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=clip(v.field, MAX_FIELD_BYTES),
                description=clip(v.description, MAX_DESCRIPTION_BYTES),
            )
            for v in error.violations  # at most LISTED_VIOLATIONS: InvalidArgument keeps no more
        ]
    )
    return detail


def _quota_failure(error: QuotaExceeded) -> Message:
    violation = error_details_pb2.QuotaFailure.Violation(
        subject=clip(error.limit, MAX_FIELD_BYTES),
        description=clip(error.description, MAX_DESCRIPTION_BYTES),
    )
    detail: Message = error_details_pb2.QuotaFailure(violations=[violation])
    return detail


ERROR_DOMAIN = "contextstore.dev"
"""``google.rpc.ErrorInfo.domain`` of the errors the contract gives a reason."""


def _precondition(error: PreconditionFailed) -> Message:
    detail: Message = error_details_pb2.ErrorInfo(
        reason="PRECONDITION_FAILED",
        domain=ERROR_DOMAIN,
        metadata={
            "path": clip(error.path, MAX_DESCRIPTION_BYTES),
            "current_version": str(error.current_version),
            "current_sha256": error.current_sha256.hex(),
        },
    )
    return detail


def _compacted(error: RevisionCompacted) -> Message:
    detail: Message = error_details_pb2.ErrorInfo(
        reason="REVISION_COMPACTED",
        domain=ERROR_DOMAIN,
        metadata={
            "oldest_revision": str(error.oldest),
            "current_revision": str(error.current),
        },
    )
    return detail


def _no_detail(error: ContextStoreError) -> None:
    return None


STATUS: dict[type[ContextStoreError], tuple[int, Detail]] = {
    InvalidArgument: (code_pb2.INVALID_ARGUMENT, _bad_request),
    NotFound: (code_pb2.NOT_FOUND, _no_detail),
    QuotaExceeded: (code_pb2.RESOURCE_EXHAUSTED, _quota_failure),
    PreconditionFailed: (code_pb2.ABORTED, _precondition),
    BackendUnavailable: (code_pb2.UNAVAILABLE, _no_detail),
    RevisionCompacted: (code_pb2.OUT_OF_RANGE, _compacted),
    StreamInterrupted: (code_pb2.UNAVAILABLE, _no_detail),
}
"""Each domain error's status code and detail builder. A subclass takes its
nearest listed ancestor's row; a ``ContextStoreError`` with no row at all is a
bug that ``tests/server/test_rpc.py`` catches."""


def to_status(error: ContextStoreError) -> status_pb2.Status:
    """The ``google.rpc.Status`` that reports ``error`` to the caller."""
    for kind in type(error).__mro__:
        row = STATUS.get(kind)
        if row is not None:
            break
    else:
        raise LookupError(f"no status for {type(error).__name__}; add it to STATUS")
    code, detail_of = row
    status = status_pb2.Status(code=code, message=clip(str(error), MAX_MESSAGE_BYTES))
    detail = detail_of(error)
    if detail is not None:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status


ErrorHook = Callable[[ContextStoreError], None]


def _abort(servicer: Any, error: Exception, context: grpc.ServicerContext, method: str) -> NoReturn:
    """End the call with ``error``'s status; a domain error is told to ``on_error`` first."""
    if isinstance(error, ContextStoreError):
        hook: ErrorHook | None = getattr(servicer, "on_error", None)
        if hook is not None:
            hook(error)
        try:
            status = to_status(error)
        except LookupError:
            pass  # a domain error without a row is our bug: INTERNAL, below
        else:
            context.abort_with_status(rpc_status.to_status(status))
    # Our bug, not the caller's: say so plainly, keep the trace in the log.
    log.error("event=rpc_failed method=%s", method, exc_info=error)
    context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")


def rpc(method: Method) -> Method:
    """Map errors of a servicer method, unary or server-streaming, to statuses.

    The servicer instance may set ``on_error`` (an ``ErrorHook``) to hear of
    each domain error first: the server uses it to reflect an unavailable
    backend in the health service.
    """
    name = method.__name__

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from method(self, request, context)
            except Exception as error:
                _abort(self, error, context, name)

        return cast(Method, stream)

    @functools.wraps(method)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as error:
            _abort(self, error, context, name)

    return cast(Method, unary)
