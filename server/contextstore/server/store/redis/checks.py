"""What the server checks of a Redis at start, before it serves.

- ``proto-max-bulk-len``: the largest value Redis accepts. A file record is
  its content and about 100 bytes more, so a ``max_content_bytes`` Redis
  would refuse stops the server at start, not a caller's write later.
- ``maxmemory`` and ``maxmemory-policy``: the whole store's bound is Redis's
  own. Unset, the cache grows until the machine runs out; with a policy that
  never evicts our keys (``noeviction``, or a ``volatile-*`` one: our keys
  carry no TTL), writes fail once Redis is full (RESOURCE_EXHAUSTED). Both
  are logged as warnings: they are the operator's choice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from redis.cluster import RedisCluster

from contextstore.server.store.redis.connection import Client, guard

log = logging.getLogger("contextstore.server")

RECORD_OVERHEAD_BYTES = 64 * 1024
"""Room beside the content in one value: header, path, labels, mtime."""
_EVICTING = ("allkeys-lru", "allkeys-lfu", "allkeys-random")


def check_server(client: Client, *, max_content_bytes: int) -> None:
    """Refuse (``ValueError``) what cannot work; warn about what is unwise."""
    for node, bulk in _each(client, _bulk_limit):
        if bulk is not None and max_content_bytes + RECORD_OVERHEAD_BYTES > bulk:
            raise ValueError(
                f"--max-content-bytes {max_content_bytes} is more than Redis at {node} accepts "
                f"in one value (proto-max-bulk-len {bulk}, less {RECORD_OVERHEAD_BYTES} bytes "
                "of record overhead)"
            )
    for node, memory in _each(client, lambda c: c.info("memory")):
        maxmemory = int(memory.get("maxmemory", 0))
        policy = str(memory.get("maxmemory_policy", ""))
        if maxmemory == 0:
            log.warning(
                "event=redis_unbounded node=%s detail=%s", node,
                "maxmemory is unset: the cache grows until the machine runs out of memory",
            )  # fmt: skip
        elif policy not in _EVICTING:
            log.warning(
                "event=redis_refuses_when_full node=%s policy=%s detail=%s", node, policy,
                "writes will fail once maxmemory is reached; use allkeys-lru",
            )  # fmt: skip


def _bulk_limit(client: Any) -> int | None:
    try:
        found: Mapping[str, str] = client.config_get("proto-max-bulk-len")
    except Exception:  # CONFIG is often renamed or forbidden on managed Redis
        return None
    value = found.get("proto-max-bulk-len")
    return int(value) if value is not None else None


def _each(client: Client, ask: Any) -> Iterable[tuple[str, Any]]:
    """``ask`` of every primary: one for a standalone Redis."""
    if isinstance(client, RedisCluster):
        nodes: list[Any] = client.get_primaries()  # type: ignore[no-untyped-call]
        for node in nodes:
            yield node.name, guard(partial(ask, client.get_redis_connection(node)))
    else:
        kwargs = client.connection_pool.connection_kwargs
        yield f"{kwargs.get('host')}:{kwargs.get('port')}", guard(lambda: ask(client))
