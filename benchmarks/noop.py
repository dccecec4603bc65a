"""Our servicer with a GetFile that does nothing: figure 1's baseline.

``python benchmarks/noop.py [serve flags]`` runs the real server (same
flags, thread pool, limits, health and reflection) with this servicer in
place of ours; it imports only the installed ``contextstore``, so it runs as
a script. Its GetFile answers with a response built once, the same size as
ours for a 1 KiB file, so the two differ only by our validation, store
lookup and response building.
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
from contextstore.server.main import log_started
from contextstore.server.service import ContextStoreServicer
from contextstore.server.store.base import Store
from contextstore.v1 import context_store_pb2 as pb

PATH = "src/pkg/module_0.py"
CONTENT = b"x" * 1024


def canned_response(path: str, content: bytes) -> pb.GetFileResponse:
    """What our GetFile returns for ``content`` cached at ``path``, in shape and size."""
    response = pb.GetFileResponse(content=content)
    meta = response.metadata
    meta.path, meta.size, meta.sha256, meta.version = path, len(content), bytes(32), 1
    meta.cached_at.seconds, meta.cached_at.nanos = 1_764_000_000, 123_456_000
    return response


class NoopServicer(ContextStoreServicer):
    """GetFile answers one canned response; the other RPCs are ours, unchanged."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        super().__init__(store, config)
        self._canned = canned_response(PATH, CONTENT)

    def GetFile(self, request: pb.GetFileRequest, context: Any) -> pb.GetFileResponse:
        return self._canned


def main() -> int:
    """Like ``contextstore serve``, with the no-op GetFile; stops on SIGTERM."""
    config = config_module.parse(sys.argv[1:], os.environ)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    server = Server(config, servicer=NoopServicer)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    server.start()
    log_started(server)  # the line that names the port
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
