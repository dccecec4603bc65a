"""Contents held once store-wide: thirty agents caching one file hold one copy.

A file record keeps its content as a ``bytes`` object of its own (``records``),
so sharing is storing the same object in every record that has that content.
``SharedContents`` finds it: an index of the contents at least ``min_bytes``
long, each its own key and value (a dict finds a key equal to a new content
and hands back the one it holds; a ``bytes`` object caches its hash).

No count is kept beside the index: CPython already counts the references to
each object, so when a record holding a content goes, the content leaves the
index if nothing but the index and the departing record refers to it
(``release``). A reader still sending it at that moment keeps it in the index;
``sweep`` (with the idle-session sweep) drops such leftovers later.

Smaller contents are stored per record: the index costs about 42 bytes per
distinct content, a larger share of a small file than its duplicates usually
save, and the 1 KiB file of figure 5a would pay it on every write.
"""

from __future__ import annotations

import sys
import threading

_RELEASED = 5
"""References to a content when its last record goes: the index's key and
value, the departing record, ``release``'s parameter and ``getrefcount``'s."""
_SWEPT = 5
"""References to a content no record holds, as ``sweep`` sees it: key, value,
the snapshot list, the loop variable and ``getrefcount``'s argument."""


class SharedContents:
    """Contents of at least ``min_bytes`` (0: none), held once; thread-safe.

    One lock, held for a dict operation at a time, orders sharing against
    releasing: never across a stripe's work, never around I/O.
    """

    def __init__(self, min_bytes: int) -> None:
        self.min_bytes = min_bytes
        self._held: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def shares(self, content: bytes) -> bool:
        return 0 < self.min_bytes <= len(content)

    def share(self, content: bytes) -> bytes:
        """The object to store for ``content``: the one already held, if any."""
        if not self.shares(content):
            return content
        with self._lock:
            return self._held.setdefault(content, content)

    def release(self, content: bytes) -> None:
        """A record holding ``content`` is going (the caller still holds it)."""
        if not self.shares(content):
            return
        with self._lock:
            if self._held.get(content) is content and sys.getrefcount(content) <= _RELEASED:
                del self._held[content]

    def sweep(self) -> int:
        """Drop contents no record holds any more; how many."""
        with self._lock:
            gone = [c for c in list(self._held) if sys.getrefcount(c) <= _SWEPT]
            for content in gone:
                del self._held[content]
        return len(gone)

    def held_bytes(self) -> int:
        """Bytes of the contents held, each once."""
        with self._lock:
            return sum(map(len, self._held))

    def __len__(self) -> int:
        return len(self._held)
