"""The values the client returns: frozen dataclasses, never protobuf messages."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class FileMetadata:
    path: str
    size: int
    sha256: bytes
    mtime: datetime | None
    cached_at: datetime
    labels: Mapping[str, str]
    version: int


@dataclass(frozen=True, slots=True)
class CachedFile:
    content: bytes
    metadata: FileMetadata
    unchanged: bool = False
    """Read with ``known_sha256`` naming this content: ``content`` is empty, not sent."""


@dataclass(frozen=True, slots=True)
class CachedAnalysis:
    result: bytes
    cached_at: datetime


@dataclass(frozen=True, slots=True)
class FileUpload:
    """One file of a batch upload."""

    path: str
    content: bytes
    labels: Mapping[str, str] = field(default_factory=dict)
    mtime: datetime | None = None
    if_version: int | None = None
    """Store only if the file there has this version (0: only if there is none)."""
    if_sha256: bytes | None = None
    """Store only if the file there has this content digest."""


@dataclass(frozen=True, slots=True)
class FilePage:
    """One page of ``list_files_page``; ``next_page_token`` is empty on the last."""

    files: list[FileMetadata]
    next_page_token: str
    revision: int = 0
    """The namespace's revision the page was read at: ``watch`` from it."""


@dataclass(frozen=True, slots=True)
class Removed:
    files: int
    analyses: int
    revision: int = field(default=0, compare=False)
    """The namespace's revision after the call; not compared: ``Removed(1, 0)``
    equals any result that removed one file and no analysis."""


@dataclass(frozen=True, slots=True)
class Stats:
    files: int
    analyses: int
    bytes: int
    sessions: int
    hits: int
    misses: int
    evictions: int
    expirations: int
    held_bytes: int = 0
    """Whole store only: ``bytes`` less what contents held once for many sessions save."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds the server enforces."""

    max_content_bytes: int
    max_message_bytes: int
    max_batch_items: int
    max_path_bytes: int
    max_session_id_bytes: int
    max_analysis_type_bytes: int
    max_labels: int
    max_label_key_bytes: int
    max_label_value_bytes: int
    # Total byte budget of the store.
    total_bytes: int
    # Per-session byte budget; 0 means none.
    session_bytes: int
    # Per-session entry budget (files plus analyses); 0 means none.
    session_entries: int
    # Idle-session time to live; zero means sessions never expire.
    session_ttl: timedelta
    # Calls admitted at once, counted from arrival until the response is sent;
    # past it a call gets RESOURCE_EXHAUSTED at once.
    max_concurrent_rpcs: int
    # Total size of responses built but not yet sent; a call that would pass it
    # gets RESOURCE_EXHAUSTED.
    max_inflight_response_bytes: int
    # How long a call's request message may take to arrive before the call is
    # cancelled.
    receive_timeout: timedelta
    # Watch streams open at once; past it Watch gets RESOURCE_EXHAUSTED.
    max_watchers: int = 0
    # How often an idle Watch stream gets a progress response.
    watch_progress_interval: timedelta = timedelta(0)
    # Revisions of history kept per namespace for Watch to resume from.
    watch_history_revisions: int = 0


@dataclass(frozen=True, slots=True)
class ServerInfo:
    version: str
    backend: str
    # Facts only this backend has, e.g. {"stripes": "64"} for memory.
    backend_properties: Mapping[str, str]
    limits: Limits


class EventKind(enum.Enum):
    """What changed (the contract's ``WatchEventKind``, without its prefix)."""

    FILE_CACHED = 1
    FILE_INVALIDATED = 2
    FILE_EVICTED = 3
    ANALYSIS_CACHED = 4
    ANALYSIS_REMOVED = 5
    SESSION_CLEARED = 6
    SESSION_EXPIRED = 7


class RemovalReason(enum.Enum):
    """Why an analysis was removed; ``NONE`` for every other event."""

    NONE = 0
    STALE = 1
    INVALIDATED = 2
    EVICTED = 3


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change to one entry, or to the whole namespace (``path`` empty)."""

    kind: EventKind
    path: str = ""
    sha256: bytes = b""
    """FILE_CACHED: the stored content's digest."""
    version: int = 0
    """FILE_CACHED: the stored file's version."""
    analysis_type: str = ""
    reason: RemovalReason = RemovalReason.NONE


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """One revision of a namespace: the events of one atomic change, or progress.

    ``progress`` (no events): nothing was missed up to ``revision``.
    """

    revision: int
    events: tuple[WatchEvent, ...] = ()
    progress: bool = False
