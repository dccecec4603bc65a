"""The values the client returns: frozen dataclasses, never protobuf messages."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Removed:
    files: int
    analyses: int


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


@dataclass(frozen=True, slots=True)
class Limits:
    max_content_bytes: int
    max_message_bytes: int
    max_batch_items: int
    max_path_bytes: int
    max_session_id_bytes: int
    max_analysis_type_bytes: int
    max_labels: int
    max_label_key_bytes: int
    max_label_value_bytes: int
    total_bytes: int
    session_bytes: int
    session_entries: int
    session_ttl: timedelta
    max_concurrent_rpcs: int


@dataclass(frozen=True, slots=True)
class ServerInfo:
    version: str
    backend: str
    # Facts only this backend has, e.g. {"stripes": "64"} for memory.
    backend_properties: Mapping[str, str]
    limits: Limits
