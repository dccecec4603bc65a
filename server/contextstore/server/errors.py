"""Domain errors, raised by validation and by stores.

The service maps each of them to one gRPC status code, in one place
(``contextstore.server.service``); nothing below the service knows about gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass


class ContextStoreError(Exception):
    """Base of every error the caller caused and the service reports."""


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
