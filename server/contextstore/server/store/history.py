"""One stripe's change history, and the cursors watchers read it with.

Each namespace's recent ``Revision``s are kept in order, bounded twice: at
most ``max_revisions`` per namespace, and at most ``max_events`` events per
stripe, the namespaces changed least recently giving up their oldest first.
A history outlives its namespace (a watcher resumes across ClearSession) until
the bound needs its room.

What a trimmed history no longer holds is remembered as its ``floor``: every
change after the floor is still there. A history dropped whole raises the
stripe's ``forgotten`` mark instead, which is then the floor of every
namespace without a history. Asking for changes after a revision below the
floor raises ``RevisionCompacted``: a cursor may be told to start over, never
handed a gap.

A change is also handed to the namespace's waiting cursors as it is
appended (decoded once for all of them), so that a watcher takes its changes
without the stripe lock: on a busy server every lock a watcher takes per
change is a thread switch for someone. The history stays the truth: a cursor
that has not passed a revision the history trims is told it fell behind, and
reads the history again, exactly as if it had read nothing but the history.

Plain data, like ``Shard``: the caller holds the stripe lock, except where a
method says otherwise.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from contextstore.server.errors import RevisionCompacted
from contextstore.server.store.base import Namespace
from contextstore.server.store.events import Cursor, Flat, Revision, unflatten


@dataclass(slots=True, eq=False)
class _Log:
    revisions: deque[Flat] = field(default_factory=deque)
    events: int = 0
    floor: int = 0


class History:
    """The histories of one stripe's namespaces, and who is waiting on them."""

    def __init__(self, *, max_revisions: int, max_events: int) -> None:
        self.max_revisions = max(1, max_revisions)
        self.max_events = max(1, max_events)
        self.events = 0
        self.forgotten = 0
        self._logs: OrderedDict[Namespace, _Log] = OrderedDict()
        self.waiting: dict[Namespace, set[HistoryCursor]] = {}

    def append(self, ns: Namespace, change: Flat) -> None:
        """Record a change (flat: its revision, then each event's fields) as ``ns``'s newest.

        Hands it to the namespace's cursors.
        """
        log = self._logs.get(ns)
        if log is None:
            log = self._logs[ns] = _Log(floor=self.forgotten)
        else:
            self._logs.move_to_end(ns)
        log.revisions.append(change)
        size = len(change) // 6
        log.events += size
        self.events += size
        if len(log.revisions) > self.max_revisions:
            self._trim(ns, log)
        while self.events > self.max_events:
            oldest_ns, oldest = next(iter(self._logs.items()))
            if oldest is log and len(log.revisions) == 1:
                break  # one change larger than the bound: kept whole, alone
            self._trim(oldest_ns, oldest)
        waiting = self.waiting.get(ns)
        if waiting:
            decoded = unflatten(change)
            for cursor in waiting:
                cursor.push(decoded)

    def since(self, ns: Namespace, after: int, current: int) -> list[Revision]:
        """``ns``'s changes after ``after``, oldest first; raises ``RevisionCompacted``."""
        log = self._logs.get(ns)
        floor = self.forgotten if log is None else log.floor
        if after < floor:
            raise RevisionCompacted(after, floor, current)
        if log is None:
            return []
        found: list[Revision] = []
        for change in reversed(log.revisions):
            if change[0] <= after:  # the first field is the revision
                break
            found.append(unflatten(change))
        found.reverse()
        return found

    def floor(self, ns: Namespace) -> int:
        log = self._logs.get(ns)
        return self.forgotten if log is None else log.floor

    def _trim(self, ns: Namespace, log: _Log) -> None:
        gone = log.revisions.popleft()
        log.floor = int(gone[0])
        for cursor in self.waiting.get(ns, ()):
            if cursor.revision < log.floor:
                cursor.fell_behind()
        log.events -= len(gone) // 6
        self.events -= len(gone) // 6
        if not log.revisions:
            del self._logs[ns]
            self.forgotten = max(self.forgotten, log.floor)


_WAKE = object()
_BEHIND = object()
"""What a cursor's queue holds besides changes: a wake-up, and the news that
the history trimmed a change the cursor had not passed."""


class HistoryCursor(Cursor):
    """A watcher's cursor over one stripe's ``History``.

    Create it holding the stripe's lock, with ``backlog``: the history's
    changes after ``after`` at that moment, queued first. From then on the
    history pushes each new change into the cursor's queue (``push``, under
    the lock), and ``next`` takes them without the lock. ``lock`` is the stripe's lock and
    ``current`` reads the stripe's revision (call holding the lock): ``next``
    takes them only to report progress when it found nothing, and to read the
    history again after ``fell_behind``.

    Once the history trims a change the cursor has not passed, nothing more
    is queued until the reader has re-read the history: a reader that stalls
    (a client that stops reading) keeps at most what its namespace's history
    held when it fell behind, and those changes are shared with every other
    cursor that got them, not copied.
    """

    def __init__(
        self,
        history: History,
        ns: Namespace,
        lock: threading.Lock,
        current: Callable[[], int],
        after: int,
        backlog: list[Revision],
    ) -> None:
        self._history = history
        self._ns = ns
        self._lock = lock
        self._current = current
        self._queue: queue.SimpleQueue[Revision | object] = queue.SimpleQueue()
        self._behind = False  # under the lock
        self.revision = after  # the writer reads it under the lock to see if we fell behind
        for change in backlog:
            self._queue.put(change)
        history.waiting.setdefault(ns, set()).add(self)  # caller holds the lock

    # -- the writer's side (under the stripe lock) -------------------------------

    def push(self, change: Revision) -> None:
        if not self._behind:
            self._queue.put(change)

    def fell_behind(self) -> None:
        if not self._behind:
            self._behind = True
            self._queue.put(_BEHIND)

    # -- the reader's side (no lock) ----------------------------------------------

    def next(self, timeout: float) -> list[Revision]:
        q = self._queue
        try:
            item = q.get(timeout=timeout) if timeout > 0 else q.get_nowait()
        except queue.Empty:
            return self._quiet()
        found: list[Revision] = []
        while True:
            if item is _BEHIND:
                return self._read_history()
            if item is not _WAKE:
                found.append(item)  # type: ignore[arg-type]
            try:
                item = q.get_nowait()
            except queue.Empty:
                break
        if not found:
            return self._quiet()
        self.revision = found[-1].revision
        return found

    def _quiet(self) -> list[Revision]:
        """Nothing came: pass the stripe's revision, if no change is queued meanwhile."""
        with self._lock:
            # Holding the lock, every change of the namespace so far is queued.
            if not self._behind and self._queue.empty():
                self.revision = max(self.revision, self._current())
        return []

    def _read_history(self) -> list[Revision]:
        """After ``fell_behind``: what a cursor reading only the history would get."""
        with self._lock:
            while True:  # the history holds whatever was queued that is still retained
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            current = self._current()
            found = self._history.since(self._ns, self.revision, current)
            self._behind = False
            self.revision = current
        return found

    def wake(self) -> None:
        self._queue.put(_WAKE)

    def close(self) -> None:
        with self._lock:
            waiting = self._history.waiting.get(self._ns)
            if waiting is not None:
                waiting.discard(self)
                if not waiting:
                    del self._history.waiting[self._ns]
