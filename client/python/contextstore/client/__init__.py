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
    PermissionDenied,
    PreconditionFailed,
    ResourceExhausted,
    ServerError,
    Unauthenticated,
    Unavailable,
    Violation,
)
from contextstore.client.models import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FilePage,
    FileUpload,
    Limits,
    Removed,
    ServerInfo,
    Stats,
)
from contextstore.client.security import TOKEN_ENV, Tls
from contextstore.client.sync import ContextStoreClient

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "TOKEN_ENV",
    "Aborted",
    "AsyncContextStoreClient",
    "CachedAnalysis",
    "CachedFile",
    "Cancelled",
    "ContextStoreClient",
    "ContextStoreError",
    "DeadlineExceeded",
    "FileMetadata",
    "FilePage",
    "FileUpload",
    "InvalidArgument",
    "Limits",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "Removed",
    "ResourceExhausted",
    "ServerError",
    "ServerInfo",
    "Stats",
    "Tls",
    "Unauthenticated",
    "Unavailable",
    "Violation",
]
