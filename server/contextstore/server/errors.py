"""Domain errors, raised by validation and by stores, and the bounds of what they say.

Each maps to one gRPC status code through the table in
``contextstore.server.rpc``; nothing below the servicer knows about gRPC.

A status travels in HTTP/2 trailers, which grpcio clients refuse past 8 KiB
(some past 16): a longer one reaches the caller as RESOURCE_EXHAUSTED instead
of the real error. So no message carries a caller's string whole (``quote``),
and an ``InvalidArgument`` lists at most ``LISTED_VIOLATIONS`` violations and
counts the rest; ``rpc`` clips whatever is left to ``MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_MESSAGE_BYTES = 1024
"""Longest status message, counted as sent (``wire_bytes``). With the detail
bounds in ``rpc`` a whole status stays under 5.5 KiB of trailers."""
LISTED_VIOLATIONS = 10
"""Most violations one status names; it says how many more there were."""
QUOTED_BYTES = 128
"""A quoted caller string keeps at most this many bytes (as sent) at each end:
three such quotes fit in one message."""

_CUT = "..."


def wire_bytes(text: str) -> int:
    """Bytes ``text`` takes as a ``grpc-message`` trailer.

    gRPC percent-encodes every byte outside printable ASCII, and ``%`` itself,
    as three bytes.
    """
    return sum(_char_wire_bytes(c) for c in text)


def _char_wire_bytes(char: str) -> int:
    if " " <= char <= "~" and char != "%":
        return 1
    return 3 * len(char.encode("utf-8", "surrogatepass"))


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` ``wire_bytes``, ending in "..." if it was cut.

    Reads no further than the limit, however long ``text`` is.
    """
    room = limit - len(_CUT)
    used, cut = 0, 0
    for i, char in enumerate(text):
        used += _char_wire_bytes(char)
        if used <= room:
            cut = i + 1
        elif used > limit:
            return text[:cut] + _CUT
    return text


def quote(text: str) -> str:
    """``text`` quoted for a message; shortened in the middle when long.

    Paths run to 4 KiB, and three times that once percent-encoded: echoed
    whole, one would push the status past the trailer limit. Head and tail
    are what a reader recognises a path by; the size tells the cut from the
    path.
    """
    if _fitting(text, 2 * QUOTED_BYTES) == len(text):
        return repr(text)
    head = text[: _fitting(text, QUOTED_BYTES)]
    tail = text[len(text) - _fitting(reversed(text), QUOTED_BYTES) :]
    size = len(text.encode("utf-8", "surrogatepass"))
    return f"{head!r}{_CUT}{tail!r} ({size} bytes)"


def _fitting(chars: Iterable[str], budget: int) -> int:
    """How many of ``chars``, from the first, fit ``budget`` bytes as sent once quoted."""
    used = count = 0
    for char in chars:
        used += wire_bytes(repr(char)[1:-1])  # repr escapes what is not printable
        if used > budget:
            break
        count += 1
    return count


class ContextStoreError(Exception):
    """Base of every error the service reports as a status, not as a crash."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: ``field`` is a path such as ``files[3].path``."""

    field: str
    description: str


class InvalidArgument(ContextStoreError):
    """The request is malformed; maps to INVALID_ARGUMENT with a BadRequest.

    ``violations`` keeps the first ``LISTED_VIOLATIONS``; ``more`` counts the
    rest (those given beyond that, plus ``unlisted`` the caller counted but
    did not keep), and the message says how many there were.
    """

    def __init__(self, violations: Sequence[FieldViolation], unlisted: int = 0) -> None:
        self.violations = list(violations[:LISTED_VIOLATIONS])
        self.more = max(0, len(violations) - LISTED_VIOLATIONS) + unlisted
        super().__init__(_describe(self.violations, self.more))


def _describe(violations: list[FieldViolation], more: int) -> str:
    # The count goes last but is never cut: clip the list to leave it room.
    suffix = f"; and {more} more" if more else ""
    listed = "; ".join(f"{v.field}: {v.description}" for v in violations)
    return clip(listed, MAX_MESSAGE_BYTES - wire_bytes(suffix)) + suffix


class NotFound(ContextStoreError):
    """The addressed entry is not cached; maps to NOT_FOUND."""


class QuotaExceeded(ContextStoreError):
    """A limit would be exceeded; maps to RESOURCE_EXHAUSTED with a QuotaFailure."""

    def __init__(self, limit: str, description: str) -> None:
        self.limit = limit
        self.description = description
        super().__init__(f"{limit}: {description}")


class PreconditionFailed(ContextStoreError):
    """A compare-and-set write found another file than it names; maps to ABORTED.

    ``current_version`` is 0 and ``current_sha256`` empty when no file is there.
    """

    def __init__(self, path: str, current_version: int, current_sha256: bytes) -> None:
        self.path = path
        self.current_version = current_version
        self.current_sha256 = current_sha256
        now = (
            f"version {current_version}, sha256 {current_sha256.hex()[:16]}..."
            if current_version
            else "no file"
        )
        super().__init__(f"precondition failed for {quote(path)}: it is now {now}; read it again")


class BackendUnavailable(ContextStoreError):
    """The storage backend could not be reached or did not answer in time.

    Not the caller's fault and not our bug: maps to UNAVAILABLE, which clients
    retry for reads, and the health service reports NOT_SERVING until the
    backend answers again. ``backend`` names it (``"redis"``).
    """

    def __init__(self, backend: str, detail: str, *, partial: bool = False) -> None:
        self.backend = backend
        self.detail = detail
        self.partial = partial
        """Only part of the backend failed (one Redis Cluster primary): the
        health service keeps to what its own checks find."""
        super().__init__(f"the {backend} backend is unavailable: {detail}")


class RevisionCompacted(ContextStoreError):
    """A watch asked for changes no longer retained; maps to OUT_OF_RANGE.

    ``oldest`` is the oldest start revision still served, ``current`` the
    namespace's revision: the caller re-reads and watches from there.
    """

    def __init__(self, start: int, oldest: int, current: int) -> None:
        self.start = start
        self.oldest = oldest
        self.current = current
        super().__init__(
            f"revision {start} is compacted: the history now starts after {oldest} "
            f"(current {current}); re-read and watch from the revision read"
        )


class StreamInterrupted(ContextStoreError):
    """A stream ends early but may be resumed (the server is stopping, or the
    stream reached its age limit); maps to UNAVAILABLE, which clients resume."""
