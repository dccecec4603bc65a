"""The gRPC servicer: validate, call the store, build the response.

Domain errors become statuses in ``contextstore.server.rpc``, through one table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from contextstore.server import __version__, paging, wire
from contextstore.server.config import (
    MAX_ANALYSIS_TYPE_BYTES,
    MAX_PATH_BYTES,
    MAX_SESSION_ID_BYTES,
    ServerConfig,
)
from contextstore.server.errors import NotFound, QuotaExceeded, quote
from contextstore.server.rpc import ErrorHook, rpc
from contextstore.server.store.base import FileMetadata, Removed, Stats, Store
from contextstore.server.validation import Checks, namespace_and_path
from contextstore.server.watching import WatchStreams
from contextstore.server.wire import WireFile
from contextstore.v1 import context_store_pb2 as pb


def _timestamp(ns: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    _set_timestamp(ts, ns)
    return ts


def _set_timestamp(ts: timestamp_pb2.Timestamp, ns: int) -> None:
    # divmod floors, giving the normalized form Timestamp wants for times
    # before 1970 too; cheaper than FromNanoseconds, which is pure Python.
    ts.seconds, ts.nanos = divmod(ns, 1_000_000_000)


def _fill_metadata(out: pb.FileMetadata, meta: FileMetadata) -> None:
    """Write ``meta`` into a message in place: responses are built on the hot
    path, and setting fields of a submessage avoids building and copying one."""
    out.path = meta.path
    out.size = meta.size
    out.sha256 = meta.sha256
    out.version = meta.version
    _set_timestamp(out.cached_at, meta.cached_at_ns)
    if meta.mtime_ns is not None:
        _set_timestamp(out.mtime, meta.mtime_ns)
    if meta.labels:
        out.labels.update(meta.labels)


def _lower_bound_size(paths: list[str], found: list[WireFile | None]) -> int:
    """A lower bound of a batch response's encoded size: its payloads and names."""
    size = sum(len(p) for p in paths)
    for path, file in zip(paths, found, strict=True):
        if file is not None:
            size += len(file.content) + len(path) + len(file.tail)
    return size


def _removed(removed: Removed) -> dict[str, int]:
    return {
        "files_removed": removed.files,
        "analyses_removed": removed.analyses,
        "revision": removed.revision,
    }


class ContextStoreServicer:
    """Serves ``contextstore.v1.ContextStoreService`` over a ``Store``.

    Methods return messages, or their encoding as ``bytes`` where a read
    composes it (``wire``); ``add_to_server`` registers serializers that take
    either.
    """

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self._store = store
        self._config = config
        self.watches = WatchStreams(store, config)
        self.on_error: ErrorHook | None = None  # told of every domain error (see ``rpc``)

    @rpc
    def CacheFile(self, request: pb.CacheFileRequest, context: Any) -> pb.CacheFileResponse:
        with Checks(self._config) as check:
            ns, write = check.namespace(request), check.file_write(request)
        meta = self._store.cache_file(ns, write)
        response = pb.CacheFileResponse(revision=meta.revision)
        _fill_metadata(response.metadata, meta)
        return response

    @rpc
    def GetFile(self, request: pb.GetFileRequest, context: Any) -> bytes:
        """An encoded ``GetFileResponse``, composed from the entry's encoded parts (``wire``)."""
        if request.HasField("known_sha256"):
            return self._get_file_if_changed(request)
        ns, path = namespace_and_path(request, self._config)
        found = self._store.get_file_wire(ns, path)
        if found is None:
            raise _no_file(ns, path)
        return wire.get_file_response(path, found.content, found.tail)

    def _get_file_if_changed(self, request: pb.GetFileRequest) -> bytes:
        """GetFile with ``known_sha256``: the metadata alone when that is the content."""
        with Checks(self._config) as check:
            ns, path = check.namespace(request), check.path(request.path)
            known = check.known_sha256(request)
        found = self._store.get_file_wire(ns, path)
        if found is None:
            raise _no_file(ns, path)
        if wire.tail_sha256(found.tail) == known:
            return wire.get_file_response(path, b"", found.tail) + wire.UNCHANGED
        return wire.get_file_response(path, found.content, found.tail)

    @rpc
    def GetMetadata(self, request: pb.GetMetadataRequest, context: Any) -> bytes:
        """An encoded ``GetMetadataResponse``: the path and the entry's encoded tail (``wire``)."""
        ns, path = namespace_and_path(request, self._config)
        tail = self._store.get_metadata_wire(ns, path)
        if tail is None:
            raise _no_file(ns, path)
        return wire.get_metadata_response(path, tail)

    @rpc
    def CacheAnalysis(
        self, request: pb.CacheAnalysisRequest, context: Any
    ) -> pb.CacheAnalysisResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
            check.analysis(request.path, request.analysis_type, request.result)
            expect = check.expect(request)
        cached = self._store.cache_analysis(
            ns, request.path, request.analysis_type, request.result, expect=expect
        )
        return pb.CacheAnalysisResponse(
            cached_at=_timestamp(cached.cached_at_ns), revision=cached.revision
        )

    @rpc
    def GetAnalysis(self, request: pb.GetAnalysisRequest, context: Any) -> pb.GetAnalysisResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
            check.analysis(request.path, request.analysis_type)
        found = self._store.get_analysis(ns, request.path, request.analysis_type)
        if found is None:
            what = f"{quote(request.analysis_type)} analysis of {quote(request.path)}"
            raise NotFound(f"no {what} in {_where(ns)}")
        return pb.GetAnalysisResponse(result=found.result, cached_at=_timestamp(found.cached_at_ns))

    @rpc
    def InvalidateFile(
        self, request: pb.InvalidateFileRequest, context: Any
    ) -> pb.InvalidateFileResponse:
        with Checks(self._config) as check:
            ns, path = check.namespace(request), check.path(request.path)
            expect = check.expect(request)
        removed = self._store.invalidate_file(ns, path, expect=expect)
        return pb.InvalidateFileResponse(**_removed(removed))

    @rpc
    def InvalidateAnalysis(
        self, request: pb.InvalidateAnalysisRequest, context: Any
    ) -> pb.InvalidateAnalysisResponse:
        analysis_type = request.analysis_type if request.HasField("analysis_type") else None
        with Checks(self._config) as check:
            ns = check.namespace(request)
            if analysis_type is None:
                check.path(request.path)
            else:
                check.analysis(request.path, analysis_type)
        removed = self._store.invalidate_analysis(ns, request.path, analysis_type)
        return pb.InvalidateAnalysisResponse(
            analyses_removed=removed.analyses, revision=removed.revision
        )

    @rpc
    def ClearSession(
        self, request: pb.ClearSessionRequest, context: Any
    ) -> pb.ClearSessionResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
        removed = self._store.clear_session(ns)
        return pb.ClearSessionResponse(**_removed(removed))

    @rpc
    def BatchGetFiles(self, request: pb.BatchGetFilesRequest, context: Any) -> bytes:
        """An encoded ``BatchGetFilesResponse``, composed from the entries' encoded parts."""
        with Checks(self._config) as check:
            ns, paths = check.namespace(request), check.paths(request.paths)
            known = check.known_by_path(request.known_sha256) if request.known_sha256 else None
        found = self._store.batch_get_files_wire(ns, paths)
        unchanged = None
        if known:
            found, unchanged = wire.without_known(paths, found, known)
        # Check before building: copying 1000 large contents into a response
        # only to refuse it would cost the memory the limit exists to save.
        self._check_response_size(_lower_bound_size(paths, found))
        response = wire.batch_response(paths, found, unchanged)
        self._check_response_size(len(response))
        return response

    def _check_response_size(self, size: int) -> None:
        limit = self._config.max_message_bytes
        if size > limit:
            raise QuotaExceeded(
                "max_message_bytes",
                f"the response would be {size} bytes, more than {limit}; ask for fewer paths",
            )

    @rpc
    def BatchCacheFiles(
        self, request: pb.BatchCacheFilesRequest, context: Any
    ) -> pb.BatchCacheFilesResponse:
        with Checks(self._config) as check:
            ns, writes = check.namespace(request), check.file_writes(request.files)
        metas = self._store.batch_cache_files(ns, writes)
        # An empty batch changed nothing: the revision is the namespace's.
        revision = metas[0].revision if metas else self._store.revision(ns)
        response = pb.BatchCacheFilesResponse(revision=revision)
        for meta in metas:
            _fill_metadata(response.metadata.add(), meta)
        return response

    @rpc
    def ListFiles(self, request: pb.ListFilesRequest, context: Any) -> bytes:
        """An encoded ``ListFilesResponse``: a page of metadata, composed from the tails."""
        with Checks(self._config) as check:
            ns, prefix = check.namespace(request), check.prefix(request.path_prefix)
            size = check.page_size(request.page_size)
            after = check.page_token(request.page_token, ns, prefix)
        listing = self._store.list_files(ns, prefix, after, paging.page_size(size))
        token = (
            "" if listing.next_after is None else paging.make_token(ns, prefix, listing.next_after)
        )
        return wire.list_response(listing.files, token, listing.revision)

    @rpc
    def InvalidatePrefix(
        self, request: pb.InvalidatePrefixRequest, context: Any
    ) -> pb.InvalidatePrefixResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
            prefix = check.prefix(request.path_prefix, required=True)
        removed = self._store.invalidate_prefix(ns, prefix)
        return pb.InvalidatePrefixResponse(**_removed(removed))

    @rpc
    def Watch(self, request: pb.WatchRequest, context: Any) -> Iterator[bytes]:
        """Encoded ``WatchResponse``s, for as long as the caller stays (``watching``)."""
        with Checks(self._config) as check:
            ns, prefix = check.namespace(request), check.prefix(request.path_prefix)
            start = check.start_revision(request.start_revision)
        yield from self.watches.stream(ns, start, prefix, context)

    @rpc
    def GetStats(self, request: pb.GetStatsRequest, context: Any) -> pb.GetStatsResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
        response = pb.GetStatsResponse()
        _fill_stats(response, self._store.stats(ns))
        return response

    @rpc
    def GetStoreStats(
        self, request: pb.GetStoreStatsRequest, context: Any
    ) -> pb.GetStoreStatsResponse:
        response = pb.GetStoreStatsResponse()
        _fill_stats(response, self._store.store_stats())
        return response

    @rpc
    def GetServerInfo(
        self, request: pb.GetServerInfoRequest, context: Any
    ) -> pb.GetServerInfoResponse:
        c = self._config
        ttl = _duration(c.session_ttl_seconds)
        receive_timeout = _duration(c.receive_timeout_seconds)
        limits = pb.Limits(
            max_content_bytes=c.max_content_bytes,
            max_message_bytes=c.max_message_bytes,
            max_batch_items=c.max_batch_items,
            max_path_bytes=MAX_PATH_BYTES,
            max_session_id_bytes=MAX_SESSION_ID_BYTES,
            max_analysis_type_bytes=MAX_ANALYSIS_TYPE_BYTES,
            max_labels=c.max_labels,
            max_label_key_bytes=c.max_label_key_bytes,
            max_label_value_bytes=c.max_label_value_bytes,
            total_bytes=c.total_bytes,
            session_bytes=c.session_bytes,
            session_entries=c.session_entries,
            session_ttl=ttl,
            max_concurrent_rpcs=c.max_concurrent_rpcs,
            max_inflight_response_bytes=c.max_inflight_response_bytes,
            receive_timeout=receive_timeout,
            max_watchers=c.max_watchers,
            watch_progress_interval=_duration(c.watch_progress_seconds),
            watch_history_revisions=c.watch_history_revisions,
        )
        properties = self._store.properties
        return pb.GetServerInfoResponse(
            version=__version__,
            backend=self._store.backend,
            # Deprecated in the contract, still filled for clients that read it.
            stripes=int(properties.get("stripes", 0)),
            limits=limits,
            backend_properties=properties,
        )


def _fill_stats(out: pb.GetStatsResponse | pb.GetStoreStatsResponse, stats: Stats) -> None:
    # The message's counters, by the same names in ``Stats``; ``Stats`` has
    # more (for metrics) that are not on the wire.
    for f in out.DESCRIPTOR.fields:
        setattr(out, f.name, getattr(stats, f.name))


def _duration(seconds: float) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def _no_file(ns: str | None, path: str) -> NotFound:
    """The miss of a file read (GetFile, GetMetadata): built only on the miss path."""
    return NotFound(f"no file {quote(path)} in {_where(ns)}")


def _where(ns: str | None) -> str:
    return "the global namespace" if ns is None else f"session {quote(ns)}"


SERVICE = pb.DESCRIPTOR.services_by_name["ContextStoreService"]


def _serialize(response: Any) -> bytes:
    # Reads answer with their response already encoded; everything else with a message.
    if type(response) is bytes:
        return response
    data: bytes = response.SerializeToString()
    return data


def method_handlers(servicer: ContextStoreServicer) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """A handler for each RPC of the contract, by name.

    As the generated registration builds them, but with a serializer that
    passes encoded responses through.
    """
    handlers = {}
    for method in SERVICE.methods:
        if method.client_streaming:
            raise NotImplementedError(f"{method.name} streams requests; register it by its shape")
        request = getattr(pb, method.input_type.name)
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=request.FromString,
            response_serializer=_serialize,
        )
    return handlers


def add_to_server(servicer: ContextStoreServicer, server: grpc.Server) -> None:
    """Serve ``servicer`` on ``server``: the generated ``add_..._to_server``, our handlers."""
    handlers = method_handlers(servicer)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
    server.add_registered_method_handlers(SERVICE.full_name, handlers)
