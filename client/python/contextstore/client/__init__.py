"""Typed Python clients for contextstore.

>>> from contextstore.client import ContextStoreClient
>>> with ContextStoreClient("127.0.0.1:50051") as client:
...     session = client.session("agent-42")
...     session.cache_file("src/app.py", b"print('hi')")
...     session.get_file("src/app.py").content
b"print('hi')"

Over TLS, with a client certificate (mTLS) and a token::

    tls = Tls(ca="ca.pem", cert="agent.pem", key="agent-key.pem")
    ContextStoreClient("cache.internal:50051", tls=tls, token=os.environ["MY_TOKEN"])
"""

from contextstore.client._calls import DEFAULT_TARGET, DEFAULT_TIMEOUT
from contextstore.client.aio import AsyncContextStoreClient
from contextstore.client.errors import (
    Aborted,
    Cancelled,
    ContextStoreError,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    PreconditionFailed,
    ResourceExhausted,
    RevisionCompacted,
    ServerError,
    Unauthenticated,
    Unavailable,
    Violation,
)
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
from contextstore.client.security import TOKEN_ENV, Tls
from contextstore.client.sync import ContextStoreClient
from contextstore.client.watch import AsyncWatch, Watch

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "TOKEN_ENV",
    "Aborted",
    "AsyncContextStoreClient",
    "AsyncWatch",
    "CachedAnalysis",
    "CachedFile",
    "Cancelled",
    "ContextStoreClient",
    "ContextStoreError",
    "DeadlineExceeded",
    "EventKind",
    "FileMetadata",
    "FilePage",
    "FileUpload",
    "InvalidArgument",
    "Limits",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "PreconditionFailed",
    "RemovalReason",
    "Removed",
    "ResourceExhausted",
    "RevisionCompacted",
    "ServerError",
    "ServerInfo",
    "Stats",
    "Tls",
    "Unauthenticated",
    "Unavailable",
    "Violation",
    "Watch",
    "WatchEvent",
    "WatchResponse",
]
