"""A contextstore gRPC server, built from its parts.

``Server`` is what the CLI and the tests share: ``start()`` binds (port 0
picks a free port, read back from ``port``), ``stop()`` drains in-flight calls
for the grace period. It takes its parts ready-made: the store, and the
interceptors and credentials that carry cross-cutting concerns.
``contextstore.server.wiring`` builds them from the configuration, in one
place; ``contextstore.server.main`` runs the result until a signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contextstore.server import service
from contextstore.server.config import ServerConfig
from contextstore.server.guard import CallGuard
from contextstore.server.health import BackendHealth
from contextstore.server.listen import is_unix, probe
from contextstore.server.service import ContextStoreServicer
from contextstore.server.store.base import Store
from contextstore.server.store.registry import open_store
from contextstore.v1 import context_store_pb2 as pb

if TYPE_CHECKING:
    from contextstore.server.observability.metrics import Metrics

ServicerFactory = Callable[[Store, ServerConfig], ContextStoreServicer]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ContextStoreService"].full_name


class Server:
    """A contextstore gRPC server with health and reflection."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store | None = None,
        *,
        servicer: ServicerFactory = ContextStoreServicer,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
        outer_interceptors: Sequence[grpc.ServerInterceptor] = (),
        credentials: grpc.ServerCredentials | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``servicer`` replaces ours, all else the same (the benchmarks' no-op baseline).

        ``outer_interceptors`` see every call before the guard admits it (metrics
        count refused calls too); ``interceptors`` run inside it, on admitted calls
        whose request has arrived (auth reads the session id there). ``metrics``
        serves its registry over HTTP from ``start()`` to ``stop()``.
        """
        self.config = config
        self.store = store if store is not None else open_store(config)
        self._servicer = servicer(self.store, config)
        self._health = health.HealthServicer()
        self.backend_health = BackendHealth(self.store, self._health, ("", SERVICE_NAME))
        self._servicer.on_error = self.backend_health.on_error
        self._credentials = credentials
        self.metrics = metrics
        # Admission and flow control see every call first, after only the observers.
        self.guard = CallGuard(config)
        self._grpc = self._build([*outer_interceptors, self.guard, *interceptors])
        self.port = 0

    def _build(self, interceptors: Sequence[grpc.ServerInterceptor]) -> grpc.Server:
        limit = self.config.max_message_bytes
        server = grpc.server(
            # A thread for every admitted call: the guard, not the pool size,
            # bounds how many handlers run at once (config.workers), so calls
            # waiting for their request never take a running one's thread.
            futures.ThreadPoolExecutor(
                max_workers=self.guard.pool_threads, thread_name_prefix="contextstore-rpc"
            ),
            interceptors=list(interceptors),
            # None: the guard admits calls, counting each until its response is sent.
            maximum_concurrent_rpcs=None,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # A second server on a taken port must fail, not share it.
                ("grpc.so_reuseport", 0),
            ],
        )
        service.add_to_server(self._servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        return server

    @property
    def address(self) -> str:
        """Where clients connect: HOST:PORT with the bound port, or the unix address itself."""
        listen = self.config.listen
        if is_unix(listen):
            return listen
        host = listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    @property
    def metrics_address(self) -> str | None:
        """HOST:PORT serving /metrics (the bound port once started); None when off."""
        return None if self.metrics is None else self.metrics.address

    def start(self) -> None:
        listen = self.config.listen
        probe(listen)  # a taken address fails here, before grpcio prints its own error line
        try:
            if self._credentials is None:
                self.port = self._grpc.add_insecure_port(listen)
            else:
                self.port = self._grpc.add_secure_port(listen, self._credentials)
        except RuntimeError as error:  # grpcio raises this, not a 0 port, when bind fails
            raise OSError(f"could not listen on {listen}") from error
        if self.port == 0:
            raise OSError(f"could not listen on {listen}")
        if self.metrics is not None:
            self.metrics.start()
        self._grpc.start()
        self.guard.start()
        # Health says SERVING only once the backend has answered.
        self.backend_health.start()

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let in-flight ones finish within the grace period."""
        self._health.enter_graceful_shutdown()
        self._servicer.watches.close()  # streams never end on their own: end them, resumably
        self._grpc.stop(self.config.grace_seconds if grace is None else grace).wait()
        self.backend_health.stop()
        self.guard.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self.store.close()
