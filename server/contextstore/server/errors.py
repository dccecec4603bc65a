"""Domain errors, raised by validation and by stores.

Each maps to one gRPC status code through the table in
``contextstore.server.rpc``; nothing below the servicer knows about gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass


class ContextStoreError(Exception):
    """Base of every error the service reports as a status, not as a crash."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: ``field`` is a path such as ``files[3].path``."""

    field: str
    description: str


class InvalidArgument(ContextStoreError):
    """The request is malformed; maps to INVALID_ARGUMENT with a BadRequest."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class NotFound(ContextStoreError):
    """The addressed entry is not cached; maps to NOT_FOUND."""


class QuotaExceeded(ContextStoreError):
    """A limit would be exceeded; maps to RESOURCE_EXHAUSTED with a QuotaFailure."""

    def __init__(self, limit: str, description: str) -> None:
        self.limit = limit
        self.description = description
        super().__init__(f"{limit}: {description}")


class BackendUnavailable(ContextStoreError):
    """The storage backend could not be reached or did not answer in time.

    Not the caller's fault and not our bug: maps to UNAVAILABLE, which clients
    retry for reads, and the health service reports NOT_SERVING until the
    backend answers again. ``backend`` names it (``"redis"``).
    """

    def __init__(self, backend: str, detail: str) -> None:
        self.backend = backend
        self.detail = detail
        super().__init__(f"the {backend} backend is unavailable: {detail}")
