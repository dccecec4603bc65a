"""Request validation: every violation of a request, named by its field.

Each check returns the violations it finds, so one reply reports them all
(the first few by name, the rest counted: see ``errors``); ``Checks`` raises
``InvalidArgument`` when any is found. Checks run before anything is stored,
which is what makes batches all-or-nothing. A batch over the item limit is
refused on its count alone: looking at each item of a request that cannot be
served would cost work in proportion to whatever the caller sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from contextstore.server import paging
from contextstore.server.config import (
    MAX_ANALYSIS_TYPE_BYTES,
    MAX_PATH_BYTES,
    MAX_SESSION_ID_BYTES,
    ServerConfig,
)
from contextstore.server.errors import LISTED_VIOLATIONS, FieldViolation, InvalidArgument, quote
from contextstore.server.store.base import Expect, FileWrite, Namespace, utf8_len
from contextstore.v1 import context_store_pb2 as pb

Violations = list[FieldViolation]


def check_path(path: str, name: str = "path") -> Violations:
    if not path:
        return [FieldViolation(name, "must not be empty")]
    if "\x00" in path:
        return [FieldViolation(name, "must not contain NUL")]
    if utf8_len(path) > MAX_PATH_BYTES:
        return [FieldViolation(name, f"must be at most {MAX_PATH_BYTES} bytes")]
    return []


# Unicode category Cc, as one pattern: checked on every request, so no per-character loop.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _has_control(text: str) -> bool:
    # An ASCII string is printable exactly when it has no Cc character, and
    # isprintable is cheaper than the pattern for the ids nearly every call has.
    if text.isascii():
        return not text.isprintable()
    return _CONTROL.search(text) is not None


def check_session_id(session_id: str) -> Violations:
    if utf8_len(session_id) > MAX_SESSION_ID_BYTES:
        return [FieldViolation("session_id", f"must be at most {MAX_SESSION_ID_BYTES} bytes")]
    if _has_control(session_id):
        return [FieldViolation("session_id", "must not contain control characters")]
    return []


SHA256_BYTES = 32


def check_sha256(digest: bytes, name: str) -> Violations:
    if len(digest) != SHA256_BYTES:
        return [FieldViolation(name, f"must be a {SHA256_BYTES}-byte SHA-256 digest")]
    return []


def _check_expect(request: _HasPrecondition, prefix: str) -> Violations:
    found: Violations = []
    if request.HasField("if_version") and request.if_version < 0:
        found.append(FieldViolation(prefix + "if_version", "must not be negative"))
    if request.HasField("if_sha256"):
        found += check_sha256(request.if_sha256, prefix + "if_sha256")
    return found


def expect_of(request: _HasPrecondition) -> Expect | None:
    """The precondition a (checked) write carries, or ``None``."""
    version = request.if_version if request.HasField("if_version") else None
    sha256 = request.if_sha256 if request.HasField("if_sha256") else None
    if version is None and sha256 is None:
        return None
    return Expect(version, sha256)


def check_analysis_type(analysis_type: str, name: str = "analysis_type") -> Violations:
    if not analysis_type:
        return [FieldViolation(name, "must not be empty")]
    if utf8_len(analysis_type) > MAX_ANALYSIS_TYPE_BYTES:
        return [FieldViolation(name, f"must be at most {MAX_ANALYSIS_TYPE_BYTES} bytes")]
    return []


def namespace_and_path(request: _HasSessionAndPath, config: ServerConfig) -> tuple[Namespace, str]:
    """The checked namespace and path of a single-path request (GetFile, GetMetadata).

    The hot calls: nearly every request has a short ASCII session id and path,
    which this accepts in one go; anything else goes through ``Checks``, which
    names every violation.
    """
    path = request.path
    ns: Namespace = None
    if request.HasField("session_id"):
        ns = request.session_id or None
        # An ASCII string is printable exactly when it has no control character.
        plain_id = ns is None or (
            ns.isascii() and ns.isprintable() and len(ns) <= MAX_SESSION_ID_BYTES
        )
    else:
        plain_id = True
    if plain_id and path and path.isascii() and len(path) <= MAX_PATH_BYTES and "\x00" not in path:
        return ns, path
    with Checks(config) as check:
        ns, path = check.namespace(request), check.path(path)
    return ns, path


class Checks:
    """Collects every violation of one request, then raises them together.

    Use one per request: ``with Checks(config) as check: ...``. Each method
    records what it finds and returns the checked value; leaving the ``with``
    block raises ``InvalidArgument`` if anything was found, so the values are
    only used once the whole request has passed.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.found: Violations = []  # the first LISTED_VIOLATIONS found
        self.unlisted = 0  # how many more: a batch may have thousands

    def __enter__(self) -> Checks:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None and self.found:
            raise InvalidArgument(self.found, self.unlisted)

    def _add(self, violations: Violations) -> None:
        room = LISTED_VIOLATIONS - len(self.found)
        self.found += violations[:room]
        self.unlisted += max(0, len(violations) - room)

    def namespace(self, request: _HasSession) -> Namespace:
        if not request.HasField("session_id"):
            return None
        session_id = request.session_id
        self._add(check_session_id(session_id))
        return session_id or None

    def path(self, path: str) -> str:
        self._add(check_path(path))
        return path

    def analysis(self, path: str, analysis_type: str, result: bytes = b"") -> None:
        self._add(check_path(path) + check_analysis_type(analysis_type))
        self._add(self._check_size(result, "result"))

    def expect(self, request: _HasPrecondition) -> Expect | None:
        """The precondition of a single write (CacheAnalysis, InvalidateFile)."""
        self._add(_check_expect(request, ""))
        return expect_of(request)

    def known_sha256(self, request: pb.GetFileRequest) -> bytes | None:
        if not request.HasField("known_sha256"):
            return None
        self._add(check_sha256(request.known_sha256, "known_sha256"))
        return request.known_sha256

    def known_by_path(self, known: Mapping[str, bytes]) -> dict[str, bytes]:
        """BatchGetFiles' ``known_sha256``, each digest checked."""
        if self._over_count(len(known), "known_sha256"):
            return {}
        for path, digest in known.items():
            self._add(check_sha256(digest, f"known_sha256[{quote(path)}]"))
        return dict(known)

    def prefix(self, prefix: str, *, required: bool = False) -> str:
        """A path prefix: a path, but empty is allowed unless ``required``."""
        if prefix or required:
            self._add(check_path(prefix, "path_prefix"))
        return prefix

    def page_size(self, size: int) -> int:
        if size < 0:
            self._add([FieldViolation("page_size", "must not be negative")])
        return size

    def start_revision(self, revision: int) -> int:
        if revision < 0:
            self._add([FieldViolation("start_revision", "must not be negative")])
        return revision

    def page_token(self, token: str, ns: Namespace, prefix: str) -> str | None:
        """The path a page token resumes after (``paging``), or a violation."""
        try:
            return paging.read_token(token, ns, prefix)
        except paging.BadPageToken as error:
            self._add([FieldViolation("page_token", str(error))])
            return None

    def paths(self, paths: Sequence[str]) -> list[str]:
        if self._over_count(len(paths), "paths"):
            return []
        for i, path in enumerate(paths):
            self._add(check_path(path, f"paths[{i}]"))
        return list(paths)

    def file_write(self, upload: pb.CacheFileRequest) -> FileWrite:
        problems = self._check_upload(upload, "")
        self._add(problems)
        return _to_write(upload, valid=not problems)

    def file_writes(self, uploads: Sequence[pb.FileUpload]) -> list[FileWrite]:
        if self._over_count(len(uploads), "files"):
            return []
        first_index: dict[str, int] = {}
        for i, upload in enumerate(uploads):
            problems = self._check_upload(upload, f"files[{i}].")
            if not problems and upload.path in first_index:
                where = f"files[{first_index[upload.path]}]"
                problems = [FieldViolation(f"files[{i}].path", f"repeats the path of {where}")]
            self._add(problems)
            first_index.setdefault(upload.path, i)
        return [_to_write(u, valid=not self.found) for u in uploads]

    def _check_upload(self, upload: pb.CacheFileRequest | pb.FileUpload, prefix: str) -> Violations:
        found = check_path(upload.path, prefix + "path")
        found += self._check_size(upload.content, prefix + "content")
        found += self._check_labels(upload.labels, prefix + "labels")
        if upload.HasField("mtime"):
            found += _check_timestamp(upload.mtime, prefix + "mtime")
        return found + _check_expect(upload, prefix)

    def _check_size(self, payload: bytes, name: str) -> Violations:
        limit = self.config.max_content_bytes
        if len(payload) > limit:
            return [FieldViolation(name, f"is {len(payload)} bytes, more than {limit}")]
        return []

    def _over_count(self, count: int, name: str) -> bool:
        """Whether a batch has more items than allowed (and if so, say so)."""
        limit = self.config.max_batch_items
        if count > limit:
            self._add([FieldViolation(name, f"has {count} items, more than {limit}")])
        return count > limit

    def _check_labels(self, labels: Mapping[str, str], name: str) -> Violations:
        c = self.config
        found: Violations = []
        if len(labels) > c.max_labels:
            found.append(
                FieldViolation(name, f"has {len(labels)} labels, more than {c.max_labels}")
            )
        found += _oversized((k for k in labels), c.max_label_key_bytes, name, "key")
        found += _oversized(labels.values(), c.max_label_value_bytes, name, "value")
        return found


def _oversized(items: Iterable[str], limit: int, name: str, what: str) -> Violations:
    for item in items:
        if len(item.encode()) > limit:
            return [FieldViolation(name, f"a label {what} is longer than {limit} bytes")]
    return []


def _check_timestamp(ts: Timestamp, name: str) -> Violations:
    # The range google.protobuf.Timestamp documents: years 0001 to 9999.
    if not -62135596800 <= ts.seconds <= 253402300799 or not 0 <= ts.nanos < 1_000_000_000:
        return [FieldViolation(name, "is outside the range of google.protobuf.Timestamp")]
    return []


def _to_write(upload: pb.CacheFileRequest | pb.FileUpload, *, valid: bool) -> FileWrite:
    # An invalid upload is never stored (the checks raise first), and its mtime
    # may not even convert; a placeholder keeps the types honest.
    if not valid:
        return FileWrite(upload.path, b"")
    mtime = upload.mtime.ToNanoseconds() if upload.HasField("mtime") else None
    return FileWrite(upload.path, upload.content, dict(upload.labels), mtime, expect_of(upload))


class _HasSession(Protocol):
    """Every request carrying ``optional string session_id``."""

    @property
    def session_id(self) -> str: ...

    def HasField(self, field_name: Any, /) -> bool: ...


class _HasPrecondition(Protocol):
    """Every write taking ``optional int64 if_version`` and ``optional bytes if_sha256``."""

    @property
    def if_version(self) -> int: ...

    @property
    def if_sha256(self) -> bytes: ...

    def HasField(self, field_name: Any, /) -> bool: ...


class _HasSessionAndPath(_HasSession, Protocol):
    @property
    def path(self) -> str: ...
