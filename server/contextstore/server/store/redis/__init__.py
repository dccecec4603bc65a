"""The Redis backend (``--backend redis``): see ``store`` for what it promises."""

from contextstore.server.store.redis.connection import Settings
from contextstore.server.store.redis.store import RedisStore

__all__ = ["RedisStore", "Settings"]
