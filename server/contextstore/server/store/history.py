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

Plain data, like ``Shard``: the caller holds the stripe lock, except where a
method says otherwise.
"""

from __future__ import annotations

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
        self.waiting: dict[Namespace, set[threading.Event]] = {}

    def append(self, ns: Namespace, change: Flat) -> None:
        """Record a change (flat: its revision, then each event's fields) as ``ns``'s newest.

        Wakes the namespace's watchers.
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
        for ready in self.waiting.get(ns, ()):
            ready.set()

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
        log.events -= len(gone) // 6
        self.events -= len(gone) // 6
        if not log.revisions:
            del self._logs[ns]
            self.forgotten = max(self.forgotten, log.floor)


class HistoryCursor(Cursor):
    """A watcher's cursor over one stripe's ``History``.

    ``lock`` is the stripe's lock; ``current`` reads the stripe's revision
    (call holding the lock). It takes the lock only to read, and waits on an
    event of its own that ``History.append`` sets, so a watcher never holds up
    a writer for longer than one read of its new changes.
    """

    def __init__(
        self,
        history: History,
        ns: Namespace,
        lock: threading.Lock,
        current: Callable[[], int],
        after: int,
    ) -> None:
        self._history = history
        self._ns = ns
        self._lock = lock
        self._current = current
        self._ready = threading.Event()
        self.revision = after
        history.waiting.setdefault(ns, set()).add(self._ready)  # caller holds the lock

    def next(self, timeout: float) -> list[Revision]:
        self._ready.clear()
        found = self._read()
        if found or timeout <= 0:
            return found
        self._ready.wait(timeout)
        return self._read()

    def _read(self) -> list[Revision]:
        with self._lock:
            current = self._current()
            found = self._history.since(self._ns, self.revision, current)
            # Holding the lock, no change is half made: nothing of this
            # namespace happened after the last one found, up to ``current``.
            self.revision = current
        return found

    def wake(self) -> None:
        self._ready.set()

    def close(self) -> None:
        with self._lock:
            waiting = self._history.waiting.get(self._ns)
            if waiting is not None:
                waiting.discard(self._ready)
                if not waiting:
                    del self._history.waiting[self._ns]
