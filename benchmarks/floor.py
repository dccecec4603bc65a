"""The floor: the cheapest GetFile server grpcio allows (figures F1, F3, 4b).

``python benchmarks/floor.py [serve flags]`` runs a plain grpcio server whose
one generic handler answers ``ContextStoreService/GetFile`` with fixed bytes:
what our server returns for the suite's preloaded 1 KiB file, encoded once at
start. No request parsing, no message building, no interceptors; every other
method is UNIMPLEMENTED. It takes ``contextstore serve``'s flags, of which
``--listen`` and the two that size our thread pool matter, and logs the same
``event=started ... listen=HOST:PORT`` line, so the suite launches it like
ours. It imports only the installed ``contextstore``, so it runs as a script.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent import futures
from typing import Any

import grpc

from contextstore.server import config as config_module
from contextstore.server.config import ServerConfig
from contextstore.server.guard import CallGuard
from contextstore.server.listen import is_unix
from contextstore.v1 import context_store_pb2 as pb

METHOD = "/contextstore.v1.ContextStoreService/GetFile"
PATH = "src/pkg/module_0.py"
CONTENT = b"x" * 1024
"""The file the suite preloads into our server and reads back with GetFile."""
log = logging.getLogger("contextstore.floor")


def canned_response(path: str, content: bytes) -> pb.GetFileResponse:
    """What our GetFile returns for ``content`` cached at ``path``, in shape and size."""
    response = pb.GetFileResponse(content=content)
    meta = response.metadata
    meta.path, meta.size, meta.sha256, meta.version = path, len(content), bytes(32), 1
    meta.cached_at.seconds, meta.cached_at.nanos = 1_764_000_000, 123_456_000
    return response


def response_bytes() -> bytes:
    """Our GetFile's answer for the preloaded file, in size and shape, encoded once."""
    return canned_response(PATH, CONTENT).SerializeToString()


class FixedGetFile(grpc.GenericRpcHandler):
    """GetFile answers ``body``: no (de)serializer, so grpcio passes bytes both ways."""

    def __init__(self, body: bytes) -> None:
        self._handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
            lambda request, context: body
        )

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        return self._handler if handler_call_details.method == METHOD else None


def pool_threads(config: ServerConfig) -> int:
    """Our server's pool size for ``config``, from the same place ours reads it."""
    return CallGuard(config).pool_threads


def build(config: ServerConfig) -> tuple[grpc.Server, str]:
    """The floor server, bound (not started), and the address clients connect to."""
    limit = config.max_message_bytes
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=pool_threads(config)),
        handlers=[FixedGetFile(response_bytes())],
        maximum_concurrent_rpcs=None,
        # Our server's channel options, so only the handler differs.
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    port = server.add_insecure_port(config.listen)
    if port == 0:
        raise OSError(f"could not listen on {config.listen}")
    if is_unix(config.listen):
        return server, config.listen
    return server, f"{config.listen.rsplit(':', 1)[0]}:{port}"


def main() -> int:
    """Serve until SIGTERM, like ``contextstore serve``."""
    config = config_module.parse(sys.argv[1:], os.environ)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    server, address = build(config)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    server.start()
    log.info(
        "event=started listen=%s backend=floor workers=%d pool_threads=%d response_bytes=%d",
        address, config.workers, pool_threads(config), len(response_bytes()),
    )  # fmt: skip
    stopping.wait()
    server.stop(config.grace_seconds).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
