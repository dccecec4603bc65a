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
from contextstore.server.security import tls
from contextstore.server.security.auth import AuthInterceptor
from contextstore.server.security.identities import TokenFile
from contextstore.server.store.base import Store


def outer_interceptors(config: ServerConfig) -> list[grpc.ServerInterceptor]:
    """Observers, outermost first: none yet (metrics and the access log come here)."""
    return []


def interceptors(config: ServerConfig) -> list[grpc.ServerInterceptor]:
    """Concerns inside the guard, outermost first: auth, when ``--auth-tokens`` is given.

    The tokens file is read here, when the server is built: a bad one stops
    ``serve`` at start (ValueError, exit 2) rather than at the first call.
    """
    if not config.auth_tokens:
        return []
    return [AuthInterceptor(TokenFile(config.auth_tokens))]


def credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    """Transport security: TLS (mTLS with a client CA) re-read on change; ``None`` is plaintext."""
    return tls.server_credentials(config)


def build_server(config: ServerConfig, *, store: Store | None = None) -> Server:
    """A server with everything ``config`` asks for; ``store`` replaces the configured one."""
    return Server(
        config,
        store,
        interceptors=interceptors(config),
        outer_interceptors=outer_interceptors(config),
        credentials=credentials(config),
    )
