"""What a namespace's changes look like to a watcher: events, revisions, cursors.

Every change to a namespace is one ``Revision``: its number and the events of
one atomic change, in the order they happened. A store keeps a bounded
history of them per namespace (``Store``, "Revisions and Watch") and hands a
watcher a ``Cursor`` that reads it: a pull model, so a watcher that falls
behind costs the server no queue of its own, only its place in the history.
"""

from __future__ import annotations

import abc
import enum
from typing import Any, NamedTuple


class EventKind(enum.IntEnum):
    """What changed: the contract's ``WatchEventKind`` numbers."""

    FILE_CACHED = 1
    FILE_INVALIDATED = 2
    FILE_EVICTED = 3
    ANALYSIS_CACHED = 4
    ANALYSIS_REMOVED = 5
    SESSION_CLEARED = 6
    SESSION_EXPIRED = 7


class Reason(enum.IntEnum):
    """Why an analysis went: the contract's ``RemovalReason`` numbers."""

    NONE = 0
    STALE = 1
    INVALIDATED = 2
    EVICTED = 3


class Event(NamedTuple):
    """One change to one entry, or to a whole namespace (``path`` empty).

    A tuple: histories hold many, and a tuple is the smallest record Python has.
    """

    kind: EventKind
    path: str = ""
    sha256: bytes = b""  # FILE_CACHED
    version: int = 0  # FILE_CACHED
    analysis_type: str = ""  # ANALYSIS_*
    reason: Reason = Reason.NONE  # ANALYSIS_REMOVED


class Revision(NamedTuple):
    """One atomic change of a namespace: its revision and its events, in order."""

    revision: int
    events: tuple[Event, ...]


RawEvent = tuple[int, str, bytes, int, str, int]
"""An ``Event``'s fields as plain values. A history in memory keeps a revision
as one flat tuple: its number, then each event's six fields. The cyclic GC
stops tracking a tuple of plain values at its next pass; a named tuple, an
enum member, or a tuple of tuples it would track for as long as it lives."""


def raw_event(
    kind: EventKind, path: str = "", sha256: bytes = b"", version: int = 0,
    analysis_type: str = "", reason: Reason = Reason.NONE,
) -> RawEvent:  # fmt: skip
    return (kind.value, path, sha256, version, analysis_type, reason.value)


Flat = tuple[Any, ...]
"""A revision as a history in memory keeps it: its number, then each event's
six fields (``RawEvent``), in one tuple."""


def unflatten(flat: Flat) -> Revision:
    """The ``Revision`` a ``Flat`` tuple holds."""
    events = tuple(
        Event(EventKind(flat[i]), flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4],
              Reason(flat[i + 5]))
        for i in range(1, len(flat), 6)
    )  # fmt: skip
    return Revision(flat[0], events)


def next_revision(last: int, wall_ns: int) -> int:
    """The revision after ``last``: the wall clock in microseconds, or ``last + 1``.

    Seeded from the clock so that a source starting afresh (a restarted
    server) still issues revisions above those it issued before.
    """
    now = wall_ns // 1000
    return now if now > last else last + 1


class Cursor(abc.ABC):
    """A watcher's place in one namespace's history (``Store.watch``).

    ``revision`` is the last revision the cursor has passed: every change up
    to it has been returned, so a caller may report it as progress.
    """

    revision: int

    @abc.abstractmethod
    def next(self, timeout: float) -> list[Revision]:
        """The changes after ``revision``, oldest first, then moves past them.

        Waits up to ``timeout`` seconds while there are none, and returns an
        empty list if none came (or ``wake`` was called). Raises
        ``RevisionCompacted`` when changes after ``revision`` are no longer
        retained: never a silent gap.
        """

    @abc.abstractmethod
    def wake(self) -> None:
        """Make a waiting ``next`` return now; from any thread, at any time."""

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release what the cursor holds; the default holds nothing."""
