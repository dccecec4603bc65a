"""Running the server: build it from a config, serve, drain on a signal.

``Server`` is what tests and the CLI share: ``start()`` binds (port 0 picks a
free port, read back from ``port``), ``stop()`` drains in-flight calls for the
grace period. ``serve()`` adds signal handling and the idle-session sweeper.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contextstore.server import __version__
from contextstore.server.config import ServerConfig
from contextstore.server.service import ContextStoreServicer
from contextstore.server.store.base import Store
from contextstore.server.store.memory import StripedStore
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

log = logging.getLogger("contextstore.server")

ServicerFactory = Callable[[Store, ServerConfig], pb_grpc.ContextStoreServiceServicer]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ContextStoreService"].full_name


def make_store(config: ServerConfig) -> Store:
    return StripedStore(stripes=config.stripes, budgets=config.budgets)


class Server:
    """A contextstore gRPC server with health and reflection."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store | None = None,
        *,
        servicer: ServicerFactory = ContextStoreServicer,
    ) -> None:
        self.config = config
        self.store = store or make_store(config)
        # Another servicer is for measuring ours against, on the same settings.
        self._servicer = servicer(self.store, config)
        self._health = health.HealthServicer()
        self._grpc = self._build()
        self.port = 0

    def _build(self) -> grpc.Server:
        limit = self.config.max_message_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=self.config.workers, thread_name_prefix="contextstore-rpc"
            ),
            maximum_concurrent_rpcs=self.config.max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # A second server on a taken port must fail, not share it.
                ("grpc.so_reuseport", 0),
            ],
        )
        pb_grpc.add_ContextStoreServiceServicer_to_server(self._servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        return server

    @property
    def address(self) -> str:
        host = self.config.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    def start(self) -> None:
        try:
            self.port = self._grpc.add_insecure_port(self.config.listen)
        except RuntimeError as error:  # grpcio raises this, not a 0 port, when bind fails
            raise OSError(f"could not listen on {self.config.listen}") from error
        if self.port == 0:
            raise OSError(f"could not listen on {self.config.listen}")
        self._grpc.start()
        for name in ("", SERVICE_NAME):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let in-flight ones finish within the grace period."""
        self._health.enter_graceful_shutdown()
        self._grpc.stop(self.config.grace_seconds if grace is None else grace).wait()
        self.store.close()


def _sweep(store: Store, every: float, stopping: threading.Event) -> None:
    while not stopping.wait(every):
        expired = store.expire_idle()
        if expired:
            log.info("event=sessions_expired count=%d", expired)


def serve(config: ServerConfig, *, servicer: ServicerFactory = ContextStoreServicer) -> int:
    """Serve until SIGTERM or SIGINT, then drain and return the exit status 0."""
    server = Server(config, servicer=servicer)
    c = config
    # Handlers go in before the started line: a supervisor may signal as soon as it sees it.
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("event=stopping signal=%s grace_seconds=%g", signal.Signals(signum).name,
                 c.grace_seconds)  # fmt: skip
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    log.info(
        "event=started version=%s listen=%s backend=%s stripes=%d workers=%d "
        "max_concurrent_rpcs=%d max_content_bytes=%d max_message_bytes=%d max_batch_items=%d "
        "total_bytes=%d session_bytes=%d session_entries=%d session_ttl_seconds=%g",
        __version__, server.address, server.store.backend, server.store.stripes, c.workers,
        c.max_concurrent_rpcs, c.max_content_bytes, c.max_message_bytes, c.max_batch_items,
        c.total_bytes, c.session_bytes, c.session_entries, c.session_ttl_seconds,
    )  # fmt: skip
    if c.session_ttl_seconds > 0:
        sweeper = threading.Thread(
            target=_sweep, args=(server.store, c.sweep_seconds or 1.0, stopping), daemon=True
        )
        sweeper.start()
    while not stopping.wait(3600):
        pass
    server.stop()
    log.info("event=stopped")
    return 0
