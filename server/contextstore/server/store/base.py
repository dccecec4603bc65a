"""The storage interface every backend implements, and the values it speaks.

A namespace is a ``str`` session id, or ``None`` for the global namespace; the
two never meet, so a session literally named "global" is just another session.
Inputs reach a store already validated (see ``contextstore.server.validation``);
a store still enforces its budgets and raises ``QuotaExceeded`` for an item that
could never fit.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Namespace = str | None
"""A session id, or ``None`` for the global namespace."""


@dataclass(frozen=True, slots=True)
class Budgets:
    """Memory and lifetime bounds of a store; 0 disables a bound."""

    total_bytes: int = 1 << 30
    session_bytes: int = 0
    session_entries: int = 0
    session_ttl_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class FileMetadata:
    path: str
    size: int
    sha256: bytes
    mtime_ns: int | None
    cached_at_ns: int
    labels: Mapping[str, str]
    version: int


@dataclass(frozen=True, slots=True)
class CachedFile:
    content: bytes
    metadata: FileMetadata


@dataclass(frozen=True, slots=True)
class CachedAnalysis:
    result: bytes
    cached_at_ns: int


@dataclass(frozen=True, slots=True)
class FileWrite:
    """One file to store; ``mtime_ns`` is the caller's, kept as given."""

    path: str
    content: bytes
    labels: Mapping[str, str] = field(default_factory=dict)
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Removed:
    files: int = 0
    analyses: int = 0


@dataclass(frozen=True, slots=True)
class Stats:
    files: int = 0
    analyses: int = 0
    bytes: int = 0
    sessions: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0


def utf8_len(text: str) -> int:
    """Bytes of ``text`` in UTF-8; ASCII, nearly every path and id, needs no encoding."""
    return len(text) if text.isascii() else len(text.encode())


def content_charge(path: str, content: bytes, labels: Mapping[str, str]) -> int:
    """Bytes a file counts against budgets: content, path and labels."""
    label_bytes = sum(utf8_len(k) + utf8_len(v) for k, v in labels.items()) if labels else 0
    return len(content) + utf8_len(path) + label_bytes


def file_charge(write: FileWrite) -> int:
    return content_charge(write.path, write.content, write.labels)


def analysis_charge(path: str, analysis_type: str, result: bytes) -> int:
    """Bytes an analysis counts against budgets: result, path and type."""
    return len(result) + utf8_len(path) + utf8_len(analysis_type)


class Store(abc.ABC):
    """A session-scoped cache of files and analyses.

    Thread safety: every method may be called from any number of threads at
    once. Each call is atomic: single-path calls, batches and ``clear_session``
    are each seen by every other call as entirely before or entirely after it.
    Eviction that a write triggers happens after the write and is itself atomic
    per evicted entry. An analysis never outlives the content it was computed
    from: storing a file drops every analysis of the path that was not recorded
    against that content's digest (including those cached with no file there).
    """

    backend: str = "abstract"

    @abc.abstractmethod
    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata: ...

    @abc.abstractmethod
    def get_file(self, ns: Namespace, path: str) -> CachedFile | None: ...

    @abc.abstractmethod
    def get_metadata(self, ns: Namespace, path: str) -> FileMetadata | None: ...

    @abc.abstractmethod
    def cache_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes
    ) -> CachedAnalysis: ...

    @abc.abstractmethod
    def get_analysis(
        self, ns: Namespace, path: str, analysis_type: str
    ) -> CachedAnalysis | None: ...

    @abc.abstractmethod
    def invalidate_file(self, ns: Namespace, path: str) -> Removed: ...

    @abc.abstractmethod
    def invalidate_analysis(self, ns: Namespace, path: str, analysis_type: str | None) -> int: ...

    @abc.abstractmethod
    def clear_session(self, ns: Namespace) -> Removed: ...

    @abc.abstractmethod
    def batch_get_files(self, ns: Namespace, paths: Sequence[str]) -> list[CachedFile | None]: ...

    @abc.abstractmethod
    def batch_cache_files(
        self, ns: Namespace, writes: Sequence[FileWrite]
    ) -> list[FileMetadata]: ...

    @abc.abstractmethod
    def stats(self, ns: Namespace, *, whole_store: bool = False) -> Stats: ...

    @abc.abstractmethod
    def expire_idle(self) -> int:
        """Expire every idle session now; returns how many expired."""

    @property
    @abc.abstractmethod
    def stripes(self) -> int:
        """Lock stripes, for GetServerInfo (1 where the notion does not apply)."""

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release resources; the default has none."""
