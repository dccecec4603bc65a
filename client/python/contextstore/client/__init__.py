"""Typed Python clients for contextstore.

>>> from contextstore.client import ContextStoreClient
>>> with ContextStoreClient("127.0.0.1:50051") as client:
...     session = client.session("agent-42")
...     session.cache_file("src/app.py", b"print('hi')")
...     session.get_file("src/app.py").content
b"print('hi')"
"""

from contextstore.client._calls import DEFAULT_TARGET, DEFAULT_TIMEOUT
from contextstore.client.aio import AsyncContextStoreClient
from contextstore.client.errors import (
    Cancelled,
    ContextStoreError,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServerError,
    Unavailable,
    Violation,
)
from contextstore.client.models import (
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FileUpload,
    Limits,
    Removed,
    ServerInfo,
    Stats,
)
from contextstore.client.sync import ContextStoreClient

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "AsyncContextStoreClient",
    "CachedAnalysis",
    "CachedFile",
    "Cancelled",
    "ContextStoreClient",
    "ContextStoreError",
    "DeadlineExceeded",
    "FileMetadata",
    "FileUpload",
    "InvalidArgument",
    "Limits",
    "NotFound",
    "Removed",
    "ResourceExhausted",
    "ServerError",
    "ServerInfo",
    "Stats",
    "Unavailable",
    "Violation",
]
