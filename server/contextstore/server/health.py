"""The health service's view of the storage backend.

The server answers health checks SERVING while its backend answers, and
NOT_SERVING from the moment a call finds the backend unavailable until a check
finds it back. For a backend in this process ``Store.check`` always passes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from grpc_health.v1 import health, health_pb2

from contextstore.server.errors import BackendUnavailable, ContextStoreError
from contextstore.server.store.base import Store

log = logging.getLogger("contextstore.server")

CHECK_SECONDS = 5.0
"""How often the backend is checked in the background."""

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class BackendHealth:
    """Sets ``services`` SERVING or NOT_SERVING as the backend comes and goes."""

    def __init__(
        self,
        store: Store,
        servicer: health.HealthServicer,
        services: Sequence[str],
        *,
        every: float = CHECK_SECONDS,
    ) -> None:
        self._store = store
        self._servicer = servicer
        self._services = tuple(services)
        self._every = every
        self._lock = threading.Lock()
        self._serving: bool | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def on_error(self, error: ContextStoreError) -> None:
        """Hear of a call's domain error: an unavailable backend is reported at once."""
        if isinstance(error, BackendUnavailable) and not error.partial:
            self._set(False, error)

    def check(self) -> bool:
        """Ask the backend now; returns whether it is serving."""
        try:
            self._store.check()
        except BackendUnavailable as error:
            self._set(False, error)
            return False
        self._set(True)
        return True

    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._watch, name="contextstore-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self._every):
            self.check()

    def _set(self, serving: bool, why: BackendUnavailable | None = None) -> None:
        with self._lock:
            if serving == self._serving:
                return
            was, self._serving = self._serving, serving
            # After enter_graceful_shutdown the servicer ignores these: draining wins.
            for name in self._services:
                self._servicer.set(name, _SERVING if serving else _NOT_SERVING)
        if not serving:
            log.warning("event=backend_unavailable error=%r", str(why))
        elif was is not None:
            log.info("event=backend_available")
