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


BACKENDS: Mapping[str, BackendFactory] = {"memory": _memory}


def open_store(config: ServerConfig) -> Store:
    """The store ``config.backend`` names (``ServerConfig`` has checked the name)."""
    return BACKENDS[config.backend](config)
