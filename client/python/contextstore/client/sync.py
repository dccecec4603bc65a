"""The blocking client."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import grpc

from contextstore.client import _calls as calls
from contextstore.client import security
from contextstore.client.errors import from_rpc_error
from contextstore.client.models import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FilePage,
    FileUpload,
    Removed,
    ServerInfo,
    Stats,
    WatchResponse,
)
from contextstore.client.security import Tls
from contextstore.client.targets import channel_target
from contextstore.client.watch import RESUME_TIMEOUT, Watch
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

T = TypeVar("T")


class ContextStoreClient:
    """A blocking client over one channel; use it as a context manager.

    The client addresses the global namespace; ``session(id)`` returns a handle
    bound to one session that shares the channel. Every call has a deadline
    (``timeout`` seconds, overridable per call); reads of a missing entry
    return ``None``; failures raise ``contextstore.client.errors`` exceptions.

    ``target`` is one server (``host:port``, ``unix:/path``), several
    (``10.0.0.1:50051,10.0.0.2:50051``: IP addresses with ports; a host name
    in a list raises ``ValueError``) or ``dns:///name:port`` for every address
    of a name. Calls take turns over every server that is up (``round_robin``);
    see ``contextstore.client.targets``.

    ``tls`` (``Tls(ca=, cert=, key=)``) makes the channel TLS (mTLS with a
    client certificate); its files are read here, so a missing one raises now.
    ``token`` goes on every call as ``authorization: Bearer``; ``None`` takes
    ``$CONTEXTSTORE_TOKEN``, ``""`` sends none. Without ``tls`` the channel is
    plaintext (a token then travels in clear: loopback only).
    """

    def __init__(
        self,
        target: str = calls.DEFAULT_TARGET,
        *,
        timeout: float = calls.DEFAULT_TIMEOUT,
        max_message_bytes: int = calls.DEFAULT_MAX_MESSAGE_BYTES,
        tls: Tls | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        options = calls.channel_options(max_message_bytes)
        plan = security.plan(
            target, channel_target(target), options, tls=tls, token=token, credentials=credentials
        )
        self._channel = security.channel(plan)
        self._stub = pb_grpc.ContextStoreServiceStub(self._channel)
        self._timeout = timeout
        self._session: str | None = None
        self._owns_channel = True

    @property
    def session_id(self) -> str | None:
        """The bound session, or ``None`` for the global namespace."""
        return self._session

    def session(self, session_id: str | None) -> ContextStoreClient:
        """A handle bound to ``session_id`` (``None``: global), sharing the channel."""
        handle = copy.copy(self)
        handle._session = session_id or None
        handle._owns_channel = False
        return handle

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> ContextStoreClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, call: calls.Call[T], timeout: float | None) -> T | None:
        method = getattr(self._stub, call.method)
        try:
            response = method(call.request, timeout=self._timeout if timeout is None else timeout)
        except grpc.RpcError as rpc_error:
            error = from_rpc_error(rpc_error)
            if call.miss_is_none and error.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise error from rpc_error
        return call.parse(response)

    def _must(self, call: calls.Call[T], timeout: float | None) -> T:
        result = self._run(call, timeout)
        assert result is not None, "only reads of one entry may miss"
        return result

    # -- files -----------------------------------------------------------------

    def cache_file(
        self,
        path: str,
        content: bytes,
        *,
        labels: Mapping[str, str] | None = None,
        mtime: datetime | None = None,
        if_version: int | None = None,
        if_sha256: bytes | None = None,
        timeout: float | None = None,
    ) -> FileMetadata:
        """Store or replace a file; a changed digest drops the path's analyses.

        ``if_version`` (0: only if no file is there) and ``if_sha256`` make it a
        compare-and-set: if the file there is another, nothing is stored and
        ``PreconditionFailed`` carries the current version and digest.
        """
        call = calls.cache_file(self._session, path, content, labels, mtime, if_version, if_sha256)
        return self._must(call, timeout)

    def get_file(
        self, path: str, *, known_sha256: bytes | None = None, timeout: float | None = None
    ) -> CachedFile | None:
        """A file; with ``known_sha256`` still current, ``unchanged`` and no content."""
        return self._run(calls.get_file(self._session, path, known_sha256), timeout)

    def get_metadata(self, path: str, *, timeout: float | None = None) -> FileMetadata | None:
        return self._run(calls.get_metadata(self._session, path), timeout)

    def batch_get_files(
        self,
        paths: Sequence[str],
        *,
        known_sha256: Mapping[str, bytes] | None = None,
        timeout: float | None = None,
    ) -> list[CachedFile | None]:
        """One result per path, in order; ``None`` for a miss. Where ``known_sha256``
        gives a path's current digest, its result is ``unchanged``, without content."""
        return self._must(calls.batch_get_files(self._session, paths, known_sha256), timeout)

    def batch_cache_files(
        self, files: Iterable[FileUpload], *, timeout: float | None = None
    ) -> list[FileMetadata]:
        """Store every file or none: one invalid item fails the whole call."""
        return self._must(calls.batch_cache_files(self._session, files), timeout)

    # -- analyses --------------------------------------------------------------

    def cache_analysis(
        self,
        path: str,
        analysis_type: str,
        result: bytes,
        *,
        if_version: int | None = None,
        if_sha256: bytes | None = None,
        timeout: float | None = None,
    ) -> datetime:
        """Store an analysis result; returns when it was cached. ``if_version`` and
        ``if_sha256`` test the file at ``path`` (see ``cache_file``)."""
        call = calls.cache_analysis(
            self._session, path, analysis_type, result, if_version, if_sha256
        )
        return self._must(call, timeout)

    def get_analysis(
        self, path: str, analysis_type: str, *, timeout: float | None = None
    ) -> CachedAnalysis | None:
        return self._run(calls.get_analysis(self._session, path, analysis_type), timeout)

    # -- invalidation ----------------------------------------------------------

    def invalidate_file(
        self,
        path: str,
        *,
        if_version: int | None = None,
        if_sha256: bytes | None = None,
        timeout: float | None = None,
    ) -> Removed:
        """Remove a path's file and analyses from this namespace; ``if_version`` and
        ``if_sha256`` remove only the file they name (see ``cache_file``)."""
        call = calls.invalidate_file(self._session, path, if_version, if_sha256)
        return self._must(call, timeout)

    def invalidate_analysis(
        self, path: str, analysis_type: str, *, timeout: float | None = None
    ) -> int:
        """Remove one analysis type of a path; returns how many were removed (0 or 1)."""
        call = calls.invalidate_analysis(self._session, path, analysis_type)
        return self._must(call, timeout)

    def invalidate_analyses(self, path: str, *, timeout: float | None = None) -> int:
        """Remove every analysis of a path, keeping the file; returns the count."""
        return self._must(calls.invalidate_analysis(self._session, path, None), timeout)

    def invalidate_prefix(self, path_prefix: str, *, timeout: float | None = None) -> Removed:
        """Remove every file and analysis whose path starts with ``path_prefix``, atomically."""
        return self._must(calls.invalidate_prefix(self._session, path_prefix), timeout)

    def list_files(
        self, path_prefix: str = "", *, page_size: int = 0, timeout: float | None = None
    ) -> Iterator[FileMetadata]:
        """Every file under ``path_prefix``, in path order, fetching pages as it goes.

        Each page is a consistent snapshot; the namespace may change between
        pages, and a path is listed at most once. ``timeout`` is per page.
        """
        token = ""
        while True:
            page = self.list_files_page(
                path_prefix, page_size=page_size, page_token=token, timeout=timeout
            )
            yield from page.files
            if not page.next_page_token:
                return
            token = page.next_page_token

    def list_files_page(
        self,
        path_prefix: str = "",
        *,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> FilePage:
        """One page of ``list_files``: pass ``next_page_token`` back for the next one."""
        call = calls.list_files_page(self._session, path_prefix, page_size, page_token)
        return self._must(call, timeout)

    def watch(
        self,
        start_revision: int = 0,
        *,
        path_prefix: str = "",
        resume_timeout: float = RESUME_TIMEOUT,
    ) -> Watch[WatchResponse]:
        """This namespace's changes after ``start_revision`` (0: from now), as they happen.

        Yields a ``WatchResponse`` per revision: the events of one atomic
        change, or progress (``progress``: nothing missed up to ``revision``);
        the first is always progress. Only events under ``path_prefix`` (and
        session events). Resumes by itself from the last revision yielded when
        the stream drops, for up to ``resume_timeout`` seconds without a
        response; raises ``RevisionCompacted`` when the server no
        longer retains what comes after ``start_revision`` (re-read, then
        watch from the revision read). No deadline: ``close()`` ends it.
        """
        return Watch(self._stub, self._session, start_revision, path_prefix, resume_timeout)

    def clear_session(self, *, timeout: float | None = None) -> Removed:
        """Remove everything of this namespace, atomically."""
        return self._must(calls.clear_session(self._session), timeout)

    # -- introspection ---------------------------------------------------------

    def stats(self, *, timeout: float | None = None) -> Stats:
        """Counters of this handle's namespace (the global one on the client itself)."""
        return self._must(calls.stats(self._session), timeout)

    def store_stats(self, *, timeout: float | None = None) -> Stats:
        """Counters of the whole store."""
        return self._must(calls.store_stats(), timeout)

    def server_info(self, *, timeout: float | None = None) -> ServerInfo:
        """Version, backend and every limit the server enforces."""
        return self._must(calls.server_info(), timeout)
