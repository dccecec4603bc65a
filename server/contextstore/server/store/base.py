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
from dataclasses import dataclass, field, fields

from contextstore.server import wire
from contextstore.server.errors import QuotaExceeded
from contextstore.server.store.events import Cursor
from contextstore.server.wire import WireFile

Namespace = str | None
"""A session id, or ``None`` for the global namespace."""


@dataclass(frozen=True, slots=True)
class Budgets:
    """Memory and lifetime bounds of a store; 0 disables a bound."""

    total_bytes: int = 1 << 30
    session_bytes: int = 0
    session_entries: int = 0
    session_ttl_seconds: float = 3600.0
    watch_history_revisions: int = 1000
    """Revisions of history kept per namespace, for watchers to resume from."""
    watch_history_events: int = 262_144
    """Events of history kept store-wide (about 160 bytes each in memory)."""
    watch_history_seconds: float = 3600.0
    share_min_bytes: int = 2048
    """Contents at least this long are held once store-wide (memory backend; 0: never)."""
    """How long a namespace that is gone keeps its history (Redis; in memory,
    until ``watch_history_events`` needs the room)."""


@dataclass(frozen=True, slots=True)
class FileMetadata:
    path: str
    size: int
    sha256: bytes
    mtime_ns: int | None
    cached_at_ns: int
    labels: Mapping[str, str]
    version: int
    revision: int = field(default=0, compare=False)
    """From a write: the namespace's revision after it. Reads leave it 0."""


@dataclass(frozen=True, slots=True)
class CachedFile:
    content: bytes
    metadata: FileMetadata


@dataclass(frozen=True, slots=True)
class CachedAnalysis:
    result: bytes
    cached_at_ns: int
    revision: int = field(default=0, compare=False)
    """From a write: the namespace's revision after it. Reads leave it 0."""


@dataclass(frozen=True, slots=True)
class Expect:
    """A write's precondition on the file at its path (``Store``, "Preconditions").

    ``version`` 0 means no file may be there; ``None`` fields are not tested.
    """

    version: int | None = None
    sha256: bytes | None = None

    def holds(self, version: int, sha256: bytes) -> bool:
        """Whether the file there now (``version`` 0: none) is the one expected."""
        if self.version is not None and self.version != version:
            return False
        return self.sha256 is None or (version != 0 and self.sha256 == sha256)


@dataclass(frozen=True, slots=True)
class FileWrite:
    """One file to store; ``mtime_ns`` is the caller's, kept as given."""

    path: str
    content: bytes
    labels: Mapping[str, str] = field(default_factory=dict)
    mtime_ns: int | None = None
    expect: Expect | None = None


LIST_LOOKS = 8
"""Paths a listing may look at per file it may return: paths holding only
analyses are passed over, and a page that met too many comes back short."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a namespace's files: (path, encoded metadata tail) in path order.

    ``next_after``: the path the next page starts after, or ``None`` when
    nothing is left under the prefix.
    """

    files: list[tuple[str, bytes]]
    next_after: str | None
    revision: int = 0
    """The namespace's revision the page was read at."""


@dataclass(frozen=True, slots=True)
class Removed:
    files: int = 0
    analyses: int = 0
    revision: int = field(default=0, compare=False)
    """The namespace's revision after the removal (compared by counts alone)."""


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters of a namespace or of the whole store (see ``Store``, "Stats").

    ``stale_analyses_dropped`` counts analyses a file write dropped as stale
    (``Store``, "Staleness"); it is not on the wire (GetStats responses carry
    the fields their messages have), only in metrics.
    """

    files: int = 0
    analyses: int = 0
    bytes: int = 0
    sessions: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    stale_analyses_dropped: int = 0
    held_bytes: int = field(default=0, compare=False)
    """Whole store only: ``bytes`` less what contents held once for many entries save
    (not compared: stats of equal counts are equal, however their contents are held)."""


# Writes build a FileMetadata per file. A frozen dataclass's
# ``__init__`` sets each field through ``object.__setattr__`` by name; calling
# each slot's own setter, spelled out, builds the same object in about half
# the time (a loop over the setters would give most of that back).
_new = object.__new__
(
    _set_path,
    _set_size,
    _set_sha256,
    _set_mtime,
    _set_cached_at,
    _set_labels,
    _set_version,
    _set_revision,
) = (getattr(FileMetadata, f.name).__set__ for f in fields(FileMetadata))


def new_metadata(
    path: str,
    size: int,
    sha256: bytes,
    mtime_ns: int | None,
    cached_at_ns: int,
    labels: Mapping[str, str],
    version: int,
    revision: int = 0,
) -> FileMetadata:
    """``FileMetadata(...)``, built faster: for stores' read and write paths."""
    meta = _new(FileMetadata)
    _set_path(meta, path)
    _set_size(meta, size)
    _set_sha256(meta, sha256)
    _set_mtime(meta, mtime_ns)
    _set_cached_at(meta, cached_at_ns)
    _set_labels(meta, labels)
    _set_version(meta, version)
    _set_revision(meta, revision)
    return meta


def decode_metadata(path: str, tail: bytes) -> FileMetadata:
    """The ``FileMetadata`` a ``wire`` tail encodes, at ``path``."""
    m = wire.parse_tail(tail)
    mtime = m.mtime.seconds * 1_000_000_000 + m.mtime.nanos if m.HasField("mtime") else None
    cached_at = m.cached_at.seconds * 1_000_000_000 + m.cached_at.nanos
    return FileMetadata(path, m.size, m.sha256, mtime, cached_at, dict(m.labels), m.version)


def decode_file(path: str, file: WireFile) -> CachedFile:
    return CachedFile(file.content, decode_metadata(path, file.tail))


def utf8_len(text: str) -> int:
    """Bytes of ``text`` in UTF-8; ASCII, nearly every path and id, needs no encoding."""
    return len(text) if text.isascii() else len(text.encode())


def content_charge(path: str, content: bytes, labels: Mapping[str, str]) -> int:
    """Bytes a file counts against budgets: content, path and labels."""
    return len(content) + utf8_len(path) + label_charge(labels)


def label_charge(labels: Mapping[str, str]) -> int:
    """Bytes a file's labels count against budgets: keys and values."""
    return sum(utf8_len(k) + utf8_len(v) for k, v in labels.items()) if labels else 0


def file_charge(write: FileWrite) -> int:
    return content_charge(write.path, write.content, write.labels)


def analysis_charge(path: str, analysis_type: str, result: bytes) -> int:
    """Bytes an analysis counts against budgets: result, path and type."""
    return len(result) + utf8_len(path) + utf8_len(analysis_type)


def check_fits(budgets: Budgets, charge: int, entries: int) -> None:
    """Raise ``QuotaExceeded`` for an item or batch larger than a budget on its own."""
    for limit, budget, need in (
        ("total_bytes", budgets.total_bytes, charge),
        ("session_bytes", budgets.session_bytes, charge),
        ("session_entries", budgets.session_entries, entries),
    ):
        if budget and need > budget:
            raise QuotaExceeded(limit, f"needs {need}, more than the budget of {budget}")


class Store(abc.ABC):
    """A session-scoped cache of files and analyses: what every backend promises.

    Every backend (``memory`` in this process, and any remote one) keeps these
    promises, and ``tests/server/store/contract.py`` checks each of them
    against every backend; what only one backend promises is its own
    docstring's business and is tested apart.

    - **Namespaces.** ``None`` is the global namespace; every session id is
      another namespace. No call on one namespace sees or changes another's
      entries or counters; a session literally named ``"global"`` is just a
      session.
    - **Staleness.** An analysis records the digest of the file content
      current when it was stored (none if no file was there). Storing a file
      drops every analysis of that path, in that namespace, not recorded
      against the new content's digest, even if the file had been evicted in
      between. Each analysis dropped so counts once in
      ``stale_analyses_dropped``, of its namespace and of the store.
    - **Atomicity.** Each call is atomic towards every other call, from any
      thread (and, for a shared backend, from any server): a single-path call,
      a batch (stored entirely or not at all; read as one snapshot) and
      ``clear_session`` are each seen entirely before or entirely after it.
    - **Budgets.** When a call returns, every namespace is within
      ``session_bytes`` and ``session_entries`` and the store within
      ``total_bytes`` (charges: ``content_charge``, ``analysis_charge``). A
      write over a namespace budget evicts that namespace's least recently used
      entries (files and analyses alike, reads refresh recency), one at a time,
      never more than needed; over the total budget, entries that were not
      used recently. A single item or batch larger than a budget raises
      ``QuotaExceeded`` and stores nothing. Evicting a file keeps its analyses.
    - **Versions and times.** A file's version comes from a store-wide count
      of file writes: it grows on every write, across invalidations too, and
      reads never change it. Successive writes in a namespace get increasing
      ``cached_at``, at least a microsecond apart, even if the wall clock
      steps back.
    - **Preconditions.** A write given an ``Expect`` (``FileWrite.expect``,
      and ``expect=`` of ``cache_analysis`` and ``invalidate_file``) tests the
      file at its path and, if it is not the one expected, changes nothing and
      raises ``PreconditionFailed`` with that file's version and digest (0 and
      empty when there is none), atomically with the write: no other call is
      ordered between the test and the write. A batch tests every item first
      and stores nothing if any fails (the error names the first).
    - **Idle expiry.** A named session with no data call for
      ``session_ttl_seconds`` expires as a whole: no later call sees its
      entries or counters, and ``store_stats().expirations`` counts it. Stats
      calls do not refresh idleness; the global namespace never expires.
      ``expire_idle`` expires every idle session now; backends also expire
      lazily, on the next use.
    - **Stats.** ``stats(ns)`` counts one namespace since it was last created
      (a cleared or expired namespace starts from zero); ``store_stats()`` sums
      every namespace and counts sessions and expirations; its ``held_bytes``
      is ``bytes`` less what a backend saves by holding a content once for
      many entries (equal to ``bytes`` where it holds none so).
    - **Revisions.** Every change to a namespace (a write, an invalidation,
      an eviction, a stale analysis dropped, a clear, an expiry) takes a
      revision from a source shared by many namespaces that only grows,
      seeded from the wall clock in microseconds (``events.next_revision``),
      so a namespace's revisions never go backwards, not across clears,
      expiry or restarts. One call's changes are one revision, except
      evictions, which may follow as their own. Write results carry the
      namespace's revision after the call (``revision``; unchanged when the
      call changed nothing), and so does a listing: for a namespace holding
      nothing, the source's current value.
    - **Watch.** ``watch`` hands out a ``Cursor`` over a bounded history of a
      namespace's revisions, kept after the namespace empties until the
      bound needs the room. A cursor returns every change after its
      revision, in order, each whole and once, or raises
      ``RevisionCompacted`` when they are no longer retained; never a gap.
    - **Failure.** A backend that cannot reach its storage, or does not hear
      back in time, raises ``BackendUnavailable``; a call that raised stored
      nothing it should not have.

    Inputs arrive validated (``contextstore.server.validation``). Every method
    may be called from any number of threads at once.
    """

    backend: str = "abstract"
    """The name ``--backend`` selects and GetServerInfo reports."""

    @property
    def properties(self) -> Mapping[str, str]:
        """Facts only this backend has (GetServerInfo ``backend_properties``)."""
        return {}

    @abc.abstractmethod
    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata: ...

    @abc.abstractmethod
    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        """A file as its content and encoded metadata (``wire``): what reads send.

        The read path: a backend keeps each file's metadata encoded from its
        write, so serving it builds no message.
        """

    def get_file(self, ns: Namespace, path: str) -> CachedFile | None:
        """``get_file_wire``, decoded: for callers that want fields, not bytes."""
        found = self.get_file_wire(ns, path)
        return None if found is None else decode_file(path, found)

    @abc.abstractmethod
    def get_metadata_wire(self, ns: Namespace, path: str) -> bytes | None:
        """A file's metadata as its encoded tail (``wire``), without its content."""

    def get_metadata(self, ns: Namespace, path: str) -> FileMetadata | None:
        """``get_metadata_wire``, decoded."""
        tail = self.get_metadata_wire(ns, path)
        return None if tail is None else decode_metadata(path, tail)

    @abc.abstractmethod
    def cache_analysis(
        self, ns: Namespace, path: str, analysis_type: str, result: bytes,
        *, expect: Expect | None = None,
    ) -> CachedAnalysis: ...  # fmt: skip

    @abc.abstractmethod
    def get_analysis(
        self, ns: Namespace, path: str, analysis_type: str
    ) -> CachedAnalysis | None: ...

    @abc.abstractmethod
    def invalidate_file(
        self, ns: Namespace, path: str, *, expect: Expect | None = None
    ) -> Removed: ...

    @abc.abstractmethod
    def invalidate_analysis(self, ns: Namespace, path: str, analysis_type: str | None) -> Removed:
        """Remove one analysis type of ``path``, or all of them when ``None``."""

    @abc.abstractmethod
    def clear_session(self, ns: Namespace) -> Removed: ...

    @abc.abstractmethod
    def list_files(self, ns: Namespace, prefix: str, after: str | None, limit: int) -> Listing:
        """Up to ``limit`` files whose path starts with ``prefix``, after the path ``after``.

        In path order (code points: UTF-8 byte order), as one snapshot. A page
        may hold fewer than ``limit`` files and still have a ``next_after``.
        Listing is a data call (it keeps a session alive) but not a read: no
        hits, no recency.
        """

    @abc.abstractmethod
    def invalidate_prefix(self, ns: Namespace, prefix: str) -> Removed:
        """Remove every file and analysis whose path starts with ``prefix``, atomically.

        Its cost grows with what it removes, never with the rest of the store.
        """

    @abc.abstractmethod
    def batch_get_files_wire(self, ns: Namespace, paths: Sequence[str]) -> list[WireFile | None]:
        """The files at ``paths`` (``None`` where missing), as one snapshot, in wire form."""

    def batch_get_files(self, ns: Namespace, paths: Sequence[str]) -> list[CachedFile | None]:
        """``batch_get_files_wire``, decoded."""
        found = self.batch_get_files_wire(ns, paths)
        return [None if f is None else decode_file(p, f) for p, f in zip(paths, found, strict=True)]

    @abc.abstractmethod
    def batch_cache_files(
        self, ns: Namespace, writes: Sequence[FileWrite]
    ) -> list[FileMetadata]: ...

    @abc.abstractmethod
    def revision(self, ns: Namespace) -> int:
        """``ns``'s revision now (see "Revisions"); not a data call."""

    @abc.abstractmethod
    def watch(self, ns: Namespace, after: int) -> Cursor:
        """A cursor over ``ns``'s changes after the revision ``after`` (0: from now).

        Raises ``RevisionCompacted`` if they are no longer retained, and
        ``InvalidArgument`` (``start_revision``) if ``after`` is ahead of the
        namespace's revision. Watching is not a data call: it keeps no session
        alive and creates none. Close the cursor when done.
        """

    @abc.abstractmethod
    def stats(self, ns: Namespace) -> Stats:
        """Counters of one namespace (``sessions`` is 1 when it holds state)."""

    @abc.abstractmethod
    def store_stats(self) -> Stats:
        """Counters of the whole store."""

    @abc.abstractmethod
    def expire_idle(self) -> int:
        """Expire every idle session now; returns how many expired."""

    def check(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Raise ``BackendUnavailable`` if the backend cannot serve calls now.

        The server's health service calls it; the default, for a backend in
        this process, always passes.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release resources; the default has none."""
