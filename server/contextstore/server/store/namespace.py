"""One namespace of a shard: its entries, their order, its counters; and what changes them.

The data a ``Shard`` keeps per namespace, and the vocabulary of its changes
(``Change``, told to a ``ChangeSink``). Plain data: the shard reads and
writes it under its stripe lock.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from contextstore.server.store import records
from contextstore.server.store.base import Namespace
from contextstore.server.store.records import Key, Record


class Change(enum.Enum):
    """Why an entry was stored or removed."""

    STORED = "stored"  # inserted, or replacing an entry of the same key
    INVALIDATED = "invalidated"
    STALE = "stale"  # an analysis not computed from a newly stored file
    EVICTED = "evicted"
    CLEARED = "cleared"
    EXPIRED = "expired"


ChangeSink = Callable[[Namespace, Key, Change], None]
"""Told of every change, under the stripe lock: it must be quick and not block."""


@dataclass(slots=True, eq=False)
class NsState:
    """One namespace: its entries, oldest first, and its counters."""

    ns: Namespace
    entries: OrderedDict[Key, Record] = field(default_factory=OrderedDict)
    analysis_types: dict[str, set[str]] = field(default_factory=dict)
    paths: SortedList[str] = field(default_factory=SortedList)
    """Every path with a file or an analysis, in order: listing and prefixes."""
    files: int = 0
    analyses: int = 0
    bytes: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    stale_analyses_dropped: int = 0
    queued: bool = False  # has an entry in its shard's ``_heads``
    dropped: bool = False

    def head_tick(self) -> int:
        key, record = next(iter(self.entries.items()))
        return records.tick(key, record)
