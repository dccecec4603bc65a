"""Each RPC once: the request it sends and how its response is read.

The sync and async clients only run these ``Call`` values, so the two can
never disagree about the wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from google.protobuf import descriptor_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from contextstore.client.models import (
    CachedAnalysis,
    CachedFile,
    EventKind,
    FileMetadata,
    FilePage,
    FileUpload,
    Limits,
    RemovalReason,
    Removed,
    ServerInfo,
    Stats,
    WatchEvent,
    WatchResponse,
)
from contextstore.client.targets import DEFAULT_PORT
from contextstore.v1 import context_store_pb2 as pb

T = TypeVar("T")

_SERVICE = pb.DESCRIPTOR.services_by_name["ContextStoreService"]
SERVICE = _SERVICE.full_name
# The contract marks reads NO_SIDE_EFFECTS; the channel retries those, and only
# those, on UNAVAILABLE.
RETRIED_METHODS = tuple(
    m.name
    for m in _SERVICE.methods
    if m.GetOptions().idempotency_level == descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS
)
DEFAULT_TARGET = f"127.0.0.1:{DEFAULT_PORT}"
DEFAULT_TIMEOUT = 10.0
# The server's default limit: 16 MiB of content plus 1 MiB of headroom.
DEFAULT_MAX_MESSAGE_BYTES = 17 << 20
# Every address the target names gets a connection, and calls take turns over
# the ready ones; gRPC's default (pick_first) would send every call to the
# first address that answers. Part of every channel's service config.
BALANCING: dict[str, Any] = {"loadBalancingConfig": [{"round_robin": {}}]}


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One RPC to run: ``method`` on the stub, ``parse`` for its response.

    With ``miss_is_none``, NOT_FOUND reads as ``None`` instead of an error.
    """

    method: str
    request: Message
    parse: Callable[[Any], T]
    miss_is_none: bool = False


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    retry = {
        "maxAttempts": 4,
        "initialBackoff": "0.05s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    config = {
        **BALANCING,
        "methodConfig": [
            {
                "name": [{"service": SERVICE, "method": m} for m in RETRIED_METHODS],
                "retryPolicy": retry,
            }
        ],
    }
    return [
        ("grpc.service_config", json.dumps(config)),
        ("grpc.enable_retries", 1),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


# -- conversions ---------------------------------------------------------------


def _datetime(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _timestamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def _metadata(m: pb.FileMetadata) -> FileMetadata:
    return FileMetadata(
        path=m.path,
        size=m.size,
        sha256=m.sha256,
        mtime=_datetime(m.mtime) if m.HasField("mtime") else None,
        cached_at=_datetime(m.cached_at),
        labels=dict(m.labels),
        version=m.version,
    )


def _file(content: bytes, m: pb.FileMetadata, unchanged: bool = False) -> CachedFile:
    return CachedFile(content=content, metadata=_metadata(m), unchanged=unchanged)


def _removed(
    r: pb.InvalidateFileResponse | pb.ClearSessionResponse | pb.InvalidatePrefixResponse,
) -> Removed:
    return Removed(files=r.files_removed, analyses=r.analyses_removed, revision=r.revision)


def _stats(r: pb.GetStatsResponse | pb.GetStoreStatsResponse) -> Stats:
    return Stats(
        files=r.files, analyses=r.analyses, bytes=r.bytes, sessions=r.sessions, hits=r.hits,
        misses=r.misses, evictions=r.evictions, expirations=r.expirations,
        held_bytes=getattr(r, "held_bytes", 0),
    )  # fmt: skip


def _server_info(r: pb.GetServerInfoResponse) -> ServerInfo:
    lim = r.limits
    limits = Limits(
        max_content_bytes=lim.max_content_bytes,
        max_message_bytes=lim.max_message_bytes,
        max_batch_items=lim.max_batch_items,
        max_path_bytes=lim.max_path_bytes,
        max_session_id_bytes=lim.max_session_id_bytes,
        max_analysis_type_bytes=lim.max_analysis_type_bytes,
        max_labels=lim.max_labels,
        max_label_key_bytes=lim.max_label_key_bytes,
        max_label_value_bytes=lim.max_label_value_bytes,
        total_bytes=lim.total_bytes,
        session_bytes=lim.session_bytes,
        session_entries=lim.session_entries,
        session_ttl=lim.session_ttl.ToTimedelta(),
        max_concurrent_rpcs=lim.max_concurrent_rpcs,
        max_inflight_response_bytes=lim.max_inflight_response_bytes,
        receive_timeout=lim.receive_timeout.ToTimedelta(),
        max_watchers=lim.max_watchers,
        watch_progress_interval=lim.watch_progress_interval.ToTimedelta(),
        watch_history_revisions=lim.watch_history_revisions,
    )
    return ServerInfo(
        version=r.version,
        backend=r.backend,
        backend_properties=dict(r.backend_properties),
        limits=limits,
    )


def _upload(f: FileUpload) -> pb.FileUpload:
    upload = pb.FileUpload(
        path=f.path, content=f.content, labels=f.labels, if_version=f.if_version,
        if_sha256=f.if_sha256,
    )  # fmt: skip
    if f.mtime is not None:
        upload.mtime.CopyFrom(_timestamp(f.mtime))
    return upload


# -- calls ---------------------------------------------------------------------

Session = str | None


def cache_file(
    session: Session, path: str, content: bytes, labels: Mapping[str, str] | None,
    mtime: datetime | None, if_version: int | None = None, if_sha256: bytes | None = None,
) -> Call[FileMetadata]:  # fmt: skip
    """``if_version``, ``if_sha256``: None sends no precondition (an unset optional)."""
    request = pb.CacheFileRequest(
        session_id=session, path=path, content=content, labels=labels or {},
        if_version=if_version, if_sha256=if_sha256,
    )  # fmt: skip
    if mtime is not None:
        request.mtime.CopyFrom(_timestamp(mtime))
    return Call("CacheFile", request, lambda r: _metadata(r.metadata))


def get_file(session: Session, path: str, known_sha256: bytes | None = None) -> Call[CachedFile]:
    request = pb.GetFileRequest(session_id=session, path=path, known_sha256=known_sha256)
    parse: Callable[[Any], CachedFile] = lambda r: _file(r.content, r.metadata, r.unchanged)  # noqa: E731
    return Call("GetFile", request, parse, miss_is_none=True)


def get_metadata(session: Session, path: str) -> Call[FileMetadata]:
    request = pb.GetMetadataRequest(session_id=session, path=path)
    return Call("GetMetadata", request, lambda r: _metadata(r.metadata), miss_is_none=True)


def cache_analysis(
    session: Session, path: str, analysis_type: str, result: bytes,
    if_version: int | None = None, if_sha256: bytes | None = None,
) -> Call[datetime]:  # fmt: skip
    request = pb.CacheAnalysisRequest(
        session_id=session, path=path, analysis_type=analysis_type, result=result,
        if_version=if_version, if_sha256=if_sha256,
    )  # fmt: skip
    return Call("CacheAnalysis", request, lambda r: _datetime(r.cached_at))


def get_analysis(session: Session, path: str, analysis_type: str) -> Call[CachedAnalysis]:
    request = pb.GetAnalysisRequest(session_id=session, path=path, analysis_type=analysis_type)
    parse: Callable[[Any], CachedAnalysis] = lambda r: CachedAnalysis(  # noqa: E731
        r.result, _datetime(r.cached_at)
    )
    return Call("GetAnalysis", request, parse, miss_is_none=True)


def invalidate_file(
    session: Session, path: str, if_version: int | None = None, if_sha256: bytes | None = None
) -> Call[Removed]:
    request = pb.InvalidateFileRequest(
        session_id=session, path=path, if_version=if_version, if_sha256=if_sha256
    )
    return Call("InvalidateFile", request, _removed)


def invalidate_analysis(session: Session, path: str, analysis_type: str | None) -> Call[int]:
    """One analysis type of ``path``, or every type when ``analysis_type`` is None."""
    request = pb.InvalidateAnalysisRequest(
        session_id=session, path=path, analysis_type=analysis_type
    )
    return Call("InvalidateAnalysis", request, lambda r: r.analyses_removed)


def list_files_page(
    session: Session, path_prefix: str, page_size: int, page_token: str
) -> Call[FilePage]:
    request = pb.ListFilesRequest(
        session_id=session, path_prefix=path_prefix, page_size=page_size, page_token=page_token
    )
    parse: Callable[[Any], FilePage] = lambda r: FilePage(  # noqa: E731
        [_metadata(m) for m in r.files], r.next_page_token, r.revision
    )
    return Call("ListFiles", request, parse)


def invalidate_prefix(session: Session, path_prefix: str) -> Call[Removed]:
    request = pb.InvalidatePrefixRequest(session_id=session, path_prefix=path_prefix)
    return Call("InvalidatePrefix", request, _removed)


def clear_session(session: Session) -> Call[Removed]:
    return Call("ClearSession", pb.ClearSessionRequest(session_id=session), _removed)


def batch_get_files(
    session: Session, paths: Sequence[str], known_sha256: Mapping[str, bytes] | None = None
) -> Call[list[CachedFile | None]]:
    def parse(r: pb.BatchGetFilesResponse) -> list[CachedFile | None]:
        return [_file(f.content, f.metadata, f.unchanged) if f.found else None for f in r.files]

    request = pb.BatchGetFilesRequest(session_id=session, paths=paths, known_sha256=known_sha256)
    return Call("BatchGetFiles", request, parse)


def batch_cache_files(session: Session, files: Iterable[FileUpload]) -> Call[list[FileMetadata]]:
    request = pb.BatchCacheFilesRequest(session_id=session, files=[_upload(f) for f in files])
    return Call("BatchCacheFiles", request, lambda r: [_metadata(m) for m in r.metadata])


def stats(session: Session) -> Call[Stats]:
    return Call("GetStats", pb.GetStatsRequest(session_id=session), _stats)


def store_stats() -> Call[Stats]:
    return Call("GetStoreStats", pb.GetStoreStatsRequest(), _stats)


def server_info() -> Call[ServerInfo]:
    return Call("GetServerInfo", pb.GetServerInfoRequest(), _server_info)


def watch_request(session: Session, start_revision: int, path_prefix: str) -> pb.WatchRequest:
    return pb.WatchRequest(
        session_id=session, start_revision=start_revision, path_prefix=path_prefix
    )


def watch_response(r: pb.WatchResponse) -> WatchResponse:
    events = tuple(
        WatchEvent(
            kind=EventKind(e.kind),
            path=e.path,
            sha256=e.sha256,
            version=e.version,
            analysis_type=e.analysis_type,
            reason=RemovalReason(e.reason),
        )
        for e in r.events
    )
    return WatchResponse(revision=r.revision, events=events, progress=r.progress)
