"""The exceptions the client raises, one per status code family::

ContextStoreError                 any failed call; .code, .message
├── InvalidArgument               INVALID_ARGUMENT; .violations names the fields
├── NotFound                      NOT_FOUND (reads return None instead)
├── ResourceExhausted             RESOURCE_EXHAUSTED; .violations names the limits
├── Unavailable                   UNAVAILABLE, after the retries the service config allows
├── DeadlineExceeded              DEADLINE_EXCEEDED
├── Cancelled                     CANCELLED
├── Unauthenticated               UNAUTHENTICATED: no credentials, or ones no identity matches
├── PermissionDenied              PERMISSION_DENIED: the identity's role or scope does not allow it
├── Aborted                       ABORTED
│   └── PreconditionFailed        a compare-and-set found another file: .current_version,
│                                 .current_sha256
└── ServerError                   INTERNAL, UNKNOWN and every other code
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True, slots=True)
class Violation:
    """A field (for InvalidArgument) or a limit (for ResourceExhausted) and why."""

    subject: str
    description: str


class ContextStoreError(Exception):
    """A call failed; ``code`` is the gRPC status code."""

    def __init__(
        self, code: grpc.StatusCode, message: str, violations: tuple[Violation, ...] = ()
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = violations


class InvalidArgument(ContextStoreError):
    """The request was malformed; ``violations`` name each bad field."""


class NotFound(ContextStoreError):
    """The entry is not cached."""


class ResourceExhausted(ContextStoreError):
    """A limit was hit; ``violations`` name the limits."""


class Unavailable(ContextStoreError):
    """The server could not be reached."""


class DeadlineExceeded(ContextStoreError):
    """The call's deadline passed."""


class Cancelled(ContextStoreError):
    """The call was cancelled."""


class Unauthenticated(ContextStoreError):
    """The server knows no identity by the token or certificate sent (or none was sent)."""


class PermissionDenied(ContextStoreError):
    """The identity is known, but its role or scope does not allow the call."""


class Aborted(ContextStoreError):
    """The call was aborted by a conflict; nothing was changed."""


class PreconditionFailed(Aborted):
    """A write's ``if_version``/``if_sha256`` did not hold: the file at ``path`` is another.

    ``current_version`` (0) and ``current_sha256`` (empty) when no file is there.
    Read it again, then decide: retrying the same call fails the same way.
    """

    def __init__(
        self, code: grpc.StatusCode, message: str, info: error_details_pb2.ErrorInfo
    ) -> None:
        super().__init__(code, message)
        self.path: str = info.metadata.get("path", "")
        self.current_version = int(info.metadata.get("current_version") or 0)
        self.current_sha256 = bytes.fromhex(info.metadata.get("current_sha256", ""))


class OutOfRange(ContextStoreError):
    """The request asked for something past what the server has."""


class RevisionCompacted(OutOfRange):
    """A watch's start revision is no longer retained: re-read, then watch from there.

    ``oldest_revision`` is the oldest start revision the server still serves,
    ``current_revision`` the namespace's revision now.
    """

    def __init__(
        self, code: grpc.StatusCode, message: str, info: error_details_pb2.ErrorInfo
    ) -> None:
        super().__init__(code, message)
        self.oldest_revision = int(info.metadata.get("oldest_revision") or 0)
        self.current_revision = int(info.metadata.get("current_revision") or 0)


class ServerError(ContextStoreError):
    """The server failed in a way the caller did not cause."""


_BY_CODE: dict[grpc.StatusCode, type[ContextStoreError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
}
PRECONDITION_FAILED = "PRECONDITION_FAILED"
"""``google.rpc.ErrorInfo.reason`` of a failed compare-and-set."""
REVISION_COMPACTED = "REVISION_COMPACTED"
"""``google.rpc.ErrorInfo.reason`` of a watch start no longer retained."""


def _violations(status: object) -> tuple[Violation, ...]:
    found: list[Violation] = []
    for detail in getattr(status, "details", ()):
        bad_request = error_details_pb2.BadRequest()
        quota = error_details_pb2.QuotaFailure()
        if detail.Unpack(bad_request):
            found += [Violation(v.field, v.description) for v in bad_request.field_violations]
        elif detail.Unpack(quota):
            found += [Violation(v.subject, v.description) for v in quota.violations]
    return tuple(found)


def _error_info(status: object) -> error_details_pb2.ErrorInfo | None:
    for detail in getattr(status, "details", ()):
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return None


def from_rpc_error(error: grpc.RpcError) -> ContextStoreError:
    """Translate a failed call, keeping the rich details the server attached."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or ""
    status = rpc_status.from_call(error)
    violations = _violations(status) if status is not None else ()
    info = _error_info(status)
    if code == grpc.StatusCode.ABORTED and info is not None and info.reason == PRECONDITION_FAILED:
        return PreconditionFailed(code, message, info)
    if (
        code == grpc.StatusCode.OUT_OF_RANGE
        and info is not None
        and info.reason == REVISION_COMPACTED
    ):
        return RevisionCompacted(code, message, info)
    return _BY_CODE.get(code, ServerError)(code, message, violations)
