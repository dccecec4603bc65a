"""Watch on Redis: a cursor over a namespace's stream of changes (``library.lua``).

Every function that changes a namespace appends one entry to its stream ``W``
in the same atomic call, so every server reads the same history in the same
order. A cursor reads it with the ``history`` function (which also says when
changes were trimmed away: ``RevisionCompacted``) and waits for new entries
with ``XREAD BLOCK`` on a connection of its own, in slices of at most
``WAIT_SLICE`` seconds so that ``wake`` is heard that soon.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.exceptions as rx

from contextstore.server.errors import RevisionCompacted
from contextstore.server.store.events import Cursor, Event, EventKind, Reason, Revision
from contextstore.v1 import context_store_pb2 as pb

WAIT_SLICE = 1.0
"""Longest single ``XREAD BLOCK``: how late a woken cursor may notice."""
READ_COUNT = 256
"""Most revisions one ``history`` call returns."""

_COMPACTED = b"COMPACTED"

Read = Callable[[int], Any]
"""Runs the ``history`` function after a revision; returns its reply."""


def parse_history(after: int, reply: Any) -> tuple[int, list[Revision]]:
    """The current revision and the changes of a ``history`` reply; raises if compacted."""
    if reply[0] == _COMPACTED:
        raise RevisionCompacted(after, int(reply[1]), int(reply[2]))
    current = int(reply[0])
    found = []
    for entry_id, data in zip(reply[1::2], reply[2::2], strict=True):
        revision = int(entry_id.split(b"-", 1)[0])
        events = tuple(_event(e) for e in pb.WatchResponse.FromString(data).events)
        found.append(Revision(revision, events))
    return current, found


def _event(e: pb.WatchEvent) -> Event:
    return Event(EventKind(e.kind), e.path, e.sha256, e.version, e.analysis_type, Reason(e.reason))


class StreamCursor(Cursor):
    """A watcher's place in one namespace's stream."""

    def __init__(
        self,
        read: Read,
        blocking: Callable[[], redis.Redis],
        stream: str,
        after: int,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_after = read
        self._blocking = blocking
        self._stream = stream
        self._timer = timer
        self._woken = threading.Event()
        self._waiter: redis.Redis | None = None
        self.revision = after

    def next(self, timeout: float) -> list[Revision]:
        self._woken.clear()
        found = self._read()
        if found or timeout <= 0:
            return found
        deadline = self._timer() + timeout
        while not self._woken.is_set():
            left = deadline - self._timer()
            if left <= 0 or self._wait(min(left, WAIT_SLICE)):
                break
        return self._read()

    def _read(self) -> list[Revision]:
        current, found = parse_history(self.revision, self._read_after(self.revision))
        # Fewer than asked for: nothing of this namespace after them, up to
        # ``current`` (one function call saw both).
        self.revision = found[-1].revision if len(found) == READ_COUNT else current
        return found

    def _wait(self, seconds: float) -> bool:
        """Block until the stream has an entry after ``revision``; True if one came."""
        try:
            if self._waiter is None:
                self._waiter = self._blocking()
            entry = f"{self.revision}-0"
            got = self._waiter.xread({self._stream: entry}, count=1, block=int(seconds * 1000))
            return bool(got)
        except (rx.RedisError, OSError):
            # The node moved or went away: ``_read`` says so, or finds it again.
            self._close_waiter()
            return True

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        self._close_waiter()

    def _close_waiter(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.close()
            waiter.connection_pool.disconnect()
