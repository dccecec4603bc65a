"""Our server with today's BatchGetFiles: figure F2's baseline.

``python benchmarks/plain.py [serve flags]`` runs the real server (same
flags, thread pool, limits, health and reflection) with one method replaced:
BatchGetFiles as it was before the fast read path, building a
``pb.BatchGetFilesResponse`` message from ``store.batch_get_files`` for every
call, field by field. The code below is a copy of that servicer's, so the
baseline stays what it was while ours changes. It imports only the installed
``contextstore``, so it runs as a script.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

from contextstore.server import config as config_module
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.errors import QuotaExceeded
from contextstore.server.main import log_started
from contextstore.server.rpc import rpc
from contextstore.server.service import ContextStoreServicer
from contextstore.server.store.base import CachedFile, FileMetadata, Store
from contextstore.server.validation import Checks
from contextstore.v1 import context_store_pb2 as pb

# Once the servicer answers with encoded bytes, the handler's serializer passes
# bytes through and no longer takes a message: encode ours as grpcio used to.
ENCODE_HERE = hasattr(Store, "batch_get_files_wire")


def _fill_metadata(out: pb.FileMetadata, meta: FileMetadata) -> None:
    out.path = meta.path
    out.size = meta.size
    out.sha256 = meta.sha256
    out.version = meta.version
    out.cached_at.seconds, out.cached_at.nanos = divmod(meta.cached_at_ns, 1_000_000_000)
    if meta.mtime_ns is not None:
        out.mtime.seconds, out.mtime.nanos = divmod(meta.mtime_ns, 1_000_000_000)
    if meta.labels:
        out.labels.update(meta.labels)


def file_results(paths: list[str], found: list[CachedFile | None]) -> pb.BatchGetFilesResponse:
    """Today's response building: one message per file, its metadata filled in place."""
    response = pb.BatchGetFilesResponse()
    add = response.files.add
    for path, file in zip(paths, found, strict=True):
        if file is None:
            add(path=path, found=False)
        else:
            _fill_metadata(add(path=path, found=True, content=file.content).metadata, file.metadata)
    return response


def _lower_bound_size(paths: list[str], found: list[CachedFile | None]) -> int:
    size = sum(len(p) for p in paths)
    for file in found:
        if file is not None:
            size += len(file.content) + len(file.metadata.path)
    return size


class PlainServicer(ContextStoreServicer):
    """BatchGetFiles as before the fast path; the other RPCs are ours, unchanged."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        super().__init__(store, config)
        self.plain_store, self.plain_config = store, config

    @rpc
    def BatchGetFiles(self, request: pb.BatchGetFilesRequest, context: Any) -> Any:
        with Checks(self.plain_config) as check:
            ns, paths = check.namespace(request), check.paths(request.paths)
        found = self.plain_store.batch_get_files(ns, paths)
        self._within_limit(_lower_bound_size(paths, found))
        response = file_results(paths, found)
        self._within_limit(response.ByteSize())
        return response.SerializeToString() if ENCODE_HERE else response

    def _within_limit(self, size: int) -> None:
        limit = self.plain_config.max_message_bytes
        if size > limit:
            raise QuotaExceeded(
                "max_message_bytes",
                f"the response would be {size} bytes, more than {limit}; ask for fewer paths",
            )


def main() -> int:
    """Like ``contextstore serve``, with today's BatchGetFiles; stops on SIGTERM."""
    config = config_module.parse(sys.argv[1:], os.environ)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    server = Server(config, servicer=PlainServicer)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    server.start()
    log_started(server)  # the line that names the port
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
