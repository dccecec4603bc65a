"""The one place a server is assembled from its configuration.

As bazel-remote's ``main.go`` composes its cache, TLS, auth and metrics, this
module turns a ``ServerConfig`` into the parts ``Server`` takes: the server
credentials (transport security), the observers outside the guard (metrics,
access log: they see every call, refused ones too) and the interceptors
inside it (auth: it needs the request). ``Server`` opens the store the backend
registry names. Each concern is a module of its own that plugs in here;
nothing else changes when one is added.
"""

from __future__ import annotations

import grpc

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.observability import cache_metrics
from contextstore.server.observability.interceptor import Observer
from contextstore.server.observability.logs import AccessLog
from contextstore.server.observability.metrics import Metrics
from contextstore.server.observability.tracing import tracing_interceptor
from contextstore.server.security import tls
from contextstore.server.security.auth import AuthInterceptor
from contextstore.server.security.identities import TokenFile
from contextstore.server.store.base import Store
from contextstore.server.store.registry import open_store


def outer_interceptors(
    config: ServerConfig, metrics: Metrics | None = None
) -> list[grpc.ServerInterceptor]:
    """Observers, outermost first: tracing, then metrics and the access log.

    Each is left out when off, so it costs nothing. Tracing is outermost: the
    instrumentation builds a new handler per call, which the observer would
    otherwise have to wrap per call too.
    """
    observers: list[grpc.ServerInterceptor] = []
    if config.tracing:
        observers.append(tracing_interceptor())
    access = config.access_log or config.log_level == "DEBUG"
    if metrics is not None or access:
        observers.append(
            Observer(metrics.grpc if metrics else None, AccessLog() if access else None)
        )
    return observers


def interceptors(
    config: ServerConfig, metrics: Metrics | None = None
) -> list[grpc.ServerInterceptor]:
    """Concerns inside the guard, outermost first: auth, when ``--auth-tokens`` is given.

    The tokens file is read here, when the server is built: a bad one stops
    ``serve`` at start (ValueError, exit 2) rather than at the first call.
    Refusals are counted in ``metrics``, when there are any.
    """
    if not config.auth_tokens:
        return []
    if metrics is None:
        return [AuthInterceptor(TokenFile(config.auth_tokens))]
    return [AuthInterceptor(TokenFile(config.auth_tokens), on_refused=metrics.auth_refused)]


def credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    """Transport security: TLS (mTLS with a client CA) re-read on change; ``None`` is plaintext."""
    return tls.server_credentials(config)


def build_server(config: ServerConfig, *, store: Store | None = None) -> Server:
    """A server with everything ``config`` asks for; ``store`` replaces the configured one."""
    metrics = Metrics(config.metrics_listen) if config.metrics_listen else None
    store = store if store is not None else open_store(config)
    if metrics is not None:
        store = cache_metrics.watch(store, metrics.registry)
    return Server(
        config,
        store,
        interceptors=interceptors(config, metrics),
        outer_interceptors=outer_interceptors(config, metrics),
        credentials=credentials(config),
        metrics=metrics,
    )
