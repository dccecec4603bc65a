"""The gRPC servicer: validate, call the store, build the response.

Domain errors become statuses in ``contextstore.server.rpc``, through one table.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from contextstore.server import __version__
from contextstore.server.config import (
    MAX_ANALYSIS_TYPE_BYTES,
    MAX_PATH_BYTES,
    MAX_SESSION_ID_BYTES,
    ServerConfig,
)
from contextstore.server.errors import NotFound, QuotaExceeded, quote
from contextstore.server.rpc import ErrorHook, rpc
from contextstore.server.store.base import CachedFile, FileMetadata, Removed, Stats, Store
from contextstore.server.validation import Checks, namespace_and_path
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc


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


def _file_results(paths: list[str], found: list[CachedFile | None]) -> pb.BatchGetFilesResponse:
    response = pb.BatchGetFilesResponse()
    add = response.files.add
    for path, file in zip(paths, found, strict=True):
        if file is None:
            add(path=path, found=False)
        else:
            _fill_metadata(add(path=path, found=True, content=file.content).metadata, file.metadata)
    return response


def _lower_bound_size(paths: list[str], found: list[CachedFile | None]) -> int:
    """A lower bound of a batch response's encoded size: its payloads and names."""
    size = sum(len(p) for p in paths)
    for file in found:
        if file is not None:
            size += len(file.content) + len(file.metadata.path)
    return size


def _removed(removed: Removed) -> dict[str, int]:
    return {"files_removed": removed.files, "analyses_removed": removed.analyses}


class ContextStoreServicer(pb_grpc.ContextStoreServiceServicer):
    """Serves ``contextstore.v1.ContextStoreService`` over a ``Store``."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self._store = store
        self._config = config
        self.on_error: ErrorHook | None = None  # told of every domain error (see ``rpc``)

    @rpc
    def CacheFile(self, request: pb.CacheFileRequest, context: Any) -> pb.CacheFileResponse:
        with Checks(self._config) as check:
            ns, write = check.namespace(request), check.file_write(request)
        meta = self._store.cache_file(ns, write)
        response = pb.CacheFileResponse()
        _fill_metadata(response.metadata, meta)
        return response

    @rpc
    def GetFile(self, request: pb.GetFileRequest, context: Any) -> pb.GetFileResponse:
        ns, path = namespace_and_path(request, self._config)
        found = self._store.get_file(ns, path)
        if found is None:
            raise NotFound(f"no file {quote(path)} in {_where(ns)}")
        response = pb.GetFileResponse(content=found.content)
        _fill_metadata(response.metadata, found.metadata)
        return response

    @rpc
    def GetMetadata(self, request: pb.GetMetadataRequest, context: Any) -> pb.GetMetadataResponse:
        ns, path = namespace_and_path(request, self._config)
        meta = self._store.get_metadata(ns, path)
        if meta is None:
            raise NotFound(f"no file {quote(path)} in {_where(ns)}")
        response = pb.GetMetadataResponse()
        _fill_metadata(response.metadata, meta)
        return response

    @rpc
    def CacheAnalysis(
        self, request: pb.CacheAnalysisRequest, context: Any
    ) -> pb.CacheAnalysisResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
            check.analysis(request.path, request.analysis_type, request.result)
        cached = self._store.cache_analysis(ns, request.path, request.analysis_type, request.result)
        return pb.CacheAnalysisResponse(cached_at=_timestamp(cached.cached_at_ns))

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
        removed = self._store.invalidate_file(ns, path)
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
        count = self._store.invalidate_analysis(ns, request.path, analysis_type)
        return pb.InvalidateAnalysisResponse(analyses_removed=count)

    @rpc
    def ClearSession(
        self, request: pb.ClearSessionRequest, context: Any
    ) -> pb.ClearSessionResponse:
        with Checks(self._config) as check:
            ns = check.namespace(request)
        removed = self._store.clear_session(ns)
        return pb.ClearSessionResponse(**_removed(removed))

    @rpc
    def BatchGetFiles(
        self, request: pb.BatchGetFilesRequest, context: Any
    ) -> pb.BatchGetFilesResponse:
        with Checks(self._config) as check:
            ns, paths = check.namespace(request), check.paths(request.paths)
        found = self._store.batch_get_files(ns, paths)
        # Check before building: copying 1000 large contents into a response
        # only to refuse it would cost the memory the limit exists to save.
        self._check_response_size(_lower_bound_size(paths, found))
        response = _file_results(paths, found)
        self._check_response_size(response.ByteSize())
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
        response = pb.BatchCacheFilesResponse()
        for meta in metas:
            _fill_metadata(response.metadata.add(), meta)
        return response

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
        ttl = duration_pb2.Duration()
        ttl.FromNanoseconds(int(c.session_ttl_seconds * 1e9))
        receive_timeout = duration_pb2.Duration()
        receive_timeout.FromNanoseconds(int(c.receive_timeout_seconds * 1e9))
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


def _where(ns: str | None) -> str:
    return "the global namespace" if ns is None else f"session {quote(ns)}"
