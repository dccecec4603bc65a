"""Watch streams: a store's cursor, turned into a stream of ``WatchResponse``.

The store keeps the history and wakes cursors (``Store.watch``); this module
only paces a stream: it sends each change whole, filtered by the caller's
prefix, a progress response when the stream has been quiet for
``watch_progress_seconds``, and ends it with a resumable UNAVAILABLE when the
server stops or the stream reaches ``watch_max_stream_seconds``. A stream
holds one pool thread, none of the unary workers' tokens (``CallGuard``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from contextstore.server.config import ServerConfig
from contextstore.server.errors import StreamInterrupted
from contextstore.server.store.base import Namespace, Store
from contextstore.server.store.events import Cursor, EventKind, Revision
from contextstore.v1 import context_store_pb2 as pb

_SESSION_KINDS = (EventKind.SESSION_CLEARED, EventKind.SESSION_EXPIRED)


def progress(revision: int) -> bytes:
    return pb.WatchResponse(revision=revision, progress=True).SerializeToString()


def encode(change: Revision, prefix: str) -> bytes | None:
    """A ``WatchResponse`` of ``change``'s events under ``prefix``; None if there are none.

    Session events concern every path, so no prefix filters them out.
    """
    response = pb.WatchResponse(revision=change.revision)
    for e in change.events:
        if prefix and not e.path.startswith(prefix) and e.kind not in _SESSION_KINDS:
            continue
        response.events.add(
            kind=e.kind,
            path=e.path,
            sha256=e.sha256,
            version=e.version,
            analysis_type=e.analysis_type,
            reason=e.reason,
        )
    return response.SerializeToString() if response.events else None


_MISSING = object()
ENCODED = 4096
"""Responses kept encoded, for the other watchers of the same change."""


class _Encoded:
    """Recent responses by (namespace, revision, prefix): a change watched by many
    streams is encoded once, not once a stream."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[Namespace, int, str], bytes | None] = {}

    def get(self, ns: Namespace, change: Revision, prefix: str) -> bytes | None:
        key = (ns, change.revision, prefix)
        # A dict read is atomic: a hit takes no lock (a thread switch, when contended).
        data = self._found.get(key, _MISSING)
        if data is not _MISSING:
            return data  # type: ignore[return-value]
        data = encode(change, prefix)  # outside the lock: the others wait for no encoding
        with self._lock:
            if len(self._found) >= ENCODED:
                del self._found[next(iter(self._found))]  # the oldest: dicts keep order
            self._found[key] = data
        return data


class WatchStreams:
    """Runs the server's Watch streams; ``close`` ends them all (resumably)."""

    def __init__(
        self, store: Store, config: ServerConfig, *, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._quiet = config.watch_progress_seconds
        self._max_age = config.watch_max_stream_seconds
        self._timer = timer
        self._lock = threading.Lock()
        self._open: set[Cursor] = set()
        self._closing = False
        self._encoded = _Encoded()

    def stream(self, ns: Namespace, start: int, prefix: str, context: Any) -> Iterator[bytes]:
        cursor = self._store.watch(ns, start)
        with self._lock:
            self._open.add(cursor)
            closing = self._closing
        # A client that leaves wakes its stream's thread at once, to end it.
        context.add_callback(cursor.wake)
        try:
            if closing:
                raise StreamInterrupted("the server is stopping: resume from another")
            yield progress(cursor.revision)
            yield from self._follow(ns, cursor, prefix, context)
        finally:
            with self._lock:
                self._open.discard(cursor)
            cursor.close()

    def _follow(self, ns: Namespace, cursor: Cursor, prefix: str, context: Any) -> Iterator[bytes]:
        timer = self._timer
        started = last_sent = timer()
        while True:
            if self._closing:
                raise StreamInterrupted(
                    "the server is stopping: resume from the last revision received"
                )
            changes = cursor.next(max(0.0, self._quiet - (timer() - last_sent)))
            # Woken with nothing: perhaps because the client left (``add_callback``).
            # While changes flow, a send to a client that left ends the stream.
            if not changes and not context.is_active():
                return
            for change in changes:
                data = self._encoded.get(ns, change, prefix)
                if data is None:
                    continue
                yield data
                last_sent = timer()
                # Checked per change sent: the client resumes from it, and the
                # next server replays the rest of the batch.
                if self._max_age and last_sent - started >= self._max_age:
                    raise StreamInterrupted(
                        "the stream reached watch_max_stream_seconds: resume from the "
                        "last revision received"
                    )
            if timer() - last_sent >= self._quiet:
                yield progress(cursor.revision)
                last_sent = timer()

    def close(self) -> None:
        """End every stream with UNAVAILABLE, so clients resume elsewhere; refuse new ones."""
        with self._lock:
            self._closing = True
            cursors = list(self._open)
        for cursor in cursors:
            cursor.wake()
