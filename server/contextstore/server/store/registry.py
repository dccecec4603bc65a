"""Storage backends by name: what ``--backend`` selects.

A backend is a factory from the server's configuration to a ``Store``. It
imports its module when chosen, so a backend's libraries are loaded only by
the servers that use it. Adding one is a row here and a module beside this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from contextstore.server.store.base import Store

if TYPE_CHECKING:  # config imports this module to check --backend
    from contextstore.server.config import ServerConfig

BackendFactory = Callable[["ServerConfig"], Store]


def _memory(config: ServerConfig) -> Store:
    from contextstore.server.store.memory import StripedStore

    return StripedStore(stripes=config.stripes, budgets=config.budgets)


def _redis(config: ServerConfig) -> Store:
    from contextstore.server.store.redis import RedisStore, Settings
    from contextstore.server.store.redis.checks import check_server

    settings = Settings(
        url=config.redis_url,
        timeout_seconds=config.redis_timeout_seconds,
        # One connection per running handler, and one each for health checks and the sweep.
        connections=config.workers + 2,
    )
    store = RedisStore(settings, key_prefix=config.redis_key_prefix, budgets=config.budgets)
    try:
        check_server(store.client, max_content_bytes=config.max_content_bytes)
    except BaseException:
        store.close()
        raise
    return store


BACKENDS: Mapping[str, BackendFactory] = {"memory": _memory, "redis": _redis}


def open_store(config: ServerConfig) -> Store:
    """The store ``config.backend`` names (``ServerConfig`` has checked the name)."""
    return BACKENDS[config.backend](config)
