"""Talking to Redis: one URL, standalone or Cluster, our functions loaded, failures named.

``connect`` opens a client for ``--redis-url`` and finds out by itself
whether the node belongs to a Redis Cluster (``INFO cluster``). ``Functions``
calls our function library (``library.lua``) by name, loading it on every
primary at start and again on a node that reports it missing (a primary that
restarted empty), and turns every way Redis can fail us into
``BackendUnavailable``. Each call goes the lean way (``lean``): a pool
without per-call locks and one packed ``FCALL`` on its connection.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any, TypeVar

import redis
import redis.exceptions as rx
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from contextstore.server.errors import BackendUnavailable, QuotaExceeded
from contextstore.server.store.redis import lean

log = logging.getLogger("contextstore.server")

BACKEND = "redis"
Client = redis.Redis | RedisCluster
T = TypeVar("T")

_SOURCE = resources.files(__package__).joinpath("library.lua").read_text(encoding="utf-8")
# Named after its own code: servers of two versions on one Redis each call theirs.
LIBRARY = "contextstore_" + hashlib.sha256(_SOURCE.encode()).hexdigest()[:12]
CODE = _SOURCE.replace("__LIBRARY__", LIBRARY)

# Failures that mean "Redis is not there, or not answering": UNAVAILABLE, and
# the health service says NOT_SERVING until a check gets through again.
_UNREACHABLE = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.ClusterDownError,
    rx.ClusterError,
    rx.MasterDownError,
    rx.BusyLoadingError,
    rx.TryAgainError,
    rx.RedisClusterException,
    rx.SlotNotCoveredError,
)


# A node we could not reach, or that did not answer in time.
_LOST = (rx.ConnectionError, rx.TimeoutError, rx.SlotNotCoveredError)

# What Redis says when a function touches a key of a slot that is moving.
_SLOT_MOVING = ("non local key in a cluster node", "TRYAGAIN", "cluster is down")


@dataclass(frozen=True, slots=True)
class Settings:
    url: str
    timeout_seconds: float
    connections: int


class _Cluster(RedisCluster):
    """A cluster client that routes FCALL by its first key, as it does EVALSHA.

    redis-py asks the server (COMMAND GETKEYS, a round trip carrying the whole
    call again) where FCALL's keys are; ours all share one slot by construction.
    """

    def determine_slot(self, *args: Any) -> int | None:
        # redis-py's name (no underscore): an override under another name is never called,
        # and COMMAND GETKEYS then goes to one node, failing every call while it is down.
        if args and args[0] == "FCALL" and int(args[2]) > 0:
            slot: int = self.keyslot(args[3])  # type: ignore[no-untyped-call]
            return slot
        base: Any = super()
        found: int | None = base.determine_slot(*args)
        return found


def connect(settings: Settings) -> tuple[Client, bool]:
    """A client for ``settings.url``, and whether it talks to a Redis Cluster.

    A standalone client does not retry: a write resent after a timeout could
    land after a later acknowledged one. The pool checks a connection before
    handing it out, so a Redis that restarted while we were idle costs nothing.
    """
    options: dict[str, Any] = {
        "socket_timeout": settings.timeout_seconds,
        "socket_connect_timeout": settings.timeout_seconds,
        "health_check_interval": 0,
    }
    probe = redis.Redis.from_url(settings.url, retry=Retry(NoBackoff(), 0), **options)
    try:
        cluster = guard(lambda: probe.info("cluster").get("cluster_enabled") == 1)
    finally:
        probe.close()
    if cluster:
        client: Client = _Cluster.from_url(
            settings.url,
            max_connections=settings.connections,
            connection_pool_class=partial(lean.LeanPool, timeout=settings.timeout_seconds),
            # Topology refreshes after a node failed: a few, then UNAVAILABLE.
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 3),
            **options,
        )
    else:
        pool = lean.LeanPool.from_url(
            settings.url,
            max_connections=settings.connections,
            timeout=settings.timeout_seconds,
            **options,
        )
        client = redis.Redis(connection_pool=pool)
    return client, cluster


def guard(call: Callable[[], T], *, partial: bool = False) -> T:
    """Run a Redis call; its failures to reach Redis become ``BackendUnavailable``.

    ``partial``: the call needed one node of several (a Cluster primary).
    """
    try:
        return call()
    except _UNREACHABLE as error:
        raise BackendUnavailable(BACKEND, _describe(error), partial=partial) from None
    except rx.ResponseError as error:
        if any(sign in str(error) for sign in _SLOT_MOVING):
            # A call that met a slot mid-resharding (library.lua avoids it; an
            # idle session expiring as it is written still can): retryable.
            raise BackendUnavailable(BACKEND, _describe(error), partial=True) from None
        if str(error).startswith("OOM"):
            raise QuotaExceeded(
                "redis maxmemory",
                "Redis is full and its maxmemory-policy refuses writes (use allkeys-lru)",
            ) from None
        raise


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _fcall(name: str, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
    return ("FCALL", f"{LIBRARY}_{name}", len(keys), *keys, *args)


class Functions:
    """Calls of our library's functions, on a standalone Redis or a Cluster."""

    def __init__(self, client: Client, cluster: bool) -> None:
        self._client = client
        self._cluster = cluster

    def load(self) -> None:
        """Load the library on every primary (a Cluster routes FUNCTION LOAD to all)."""
        guard(lambda: self._client.function_load(CODE, replace=True))

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]
    ) -> list[Any]:
        """``call`` for each of ``calls``, pipelined: one round trip per node, not per call.

        A call the pipeline could not complete (a slot moving during a
        resharding, a node missing our library) is made again on its own.
        """
        groups: dict[Any, list[int]] = {}
        for i, (keys, _) in enumerate(calls):
            groups.setdefault(self._node_of(keys[0]), []).append(i)
        results: list[Any] = [None] * len(calls)
        for node, indexes in groups.items():
            pipe: Any = self._node_client(node).pipeline(transaction=False)
            for i in indexes:
                keys, args = calls[i]
                pipe.execute_command(*_fcall(name, keys, args))
            answers: list[Any] = guard(
                partial(pipe.execute, raise_on_error=False), partial=self._cluster
            )
            for i, answer in zip(indexes, answers, strict=True):
                if isinstance(answer, Exception):
                    keys, args = calls[i]
                    answer = self.call(name, keys, args)
                results[i] = answer
        return results

    def _node_of(self, key: str) -> Any:
        client: Any = self._client
        return guard(lambda: client.get_node_from_key(key)) if self._cluster else None

    def _node_client(self, node: Any) -> redis.Redis:
        if node is None:
            assert isinstance(self._client, redis.Redis)
            return self._client
        assert isinstance(self._client, RedisCluster)
        connection = self._client.get_redis_connection(node)
        assert connection is not None
        return connection

    def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        command = _fcall(name, keys, args)
        send = partial(self._send, keys[0], command)
        try:
            return guard(send, partial=self._cluster)
        except rx.ResponseError as error:
            if "Function not found" not in str(error):
                raise
        # A primary that restarted empty, or joined since we started.
        log.info("event=redis_functions_reloaded library=%s", LIBRARY)
        self.load()
        return guard(send, partial=self._cluster)

    def _send(self, key: str, command: tuple[Any, ...]) -> Any:
        """``command`` on the primary of ``key``, the lean way (``lean``).

        On a Cluster, a reply that the slot moved or is moving, or a node we
        could not reach, sends it again through redis-py's cluster client,
        which follows redirections and refreshes its map of the cluster (and
        retries a few times, as it always did). Redis ran none of these
        commands, but for a connection lost after sending: the cluster client
        retried those before too.
        """
        if not self._cluster:
            assert isinstance(self._client, redis.Redis)
            return lean.call(self._client.connection_pool, command)
        client: Any = self._client
        try:
            node = client.nodes_manager.get_node_from_slot(client.keyslot(key))
            return lean.call(client.get_redis_connection(node).connection_pool, command)
        except (rx.AskError, rx.TryAgainError, rx.ClusterDownError, *_LOST):
            pass
        return client.execute_command(*command)

    def blocking_client(self, key: str, timeout: float) -> redis.Redis:
        """A client with one connection of its own to the primary of ``key``.

        For blocking reads (``XREAD BLOCK``), which would otherwise hold a
        connection of the shared pool for as long as they wait.
        """
        pool: Any
        if self._cluster:
            client: Any = self._client
            node = guard(lambda: client.get_node_from_key(key), partial=True)
            pool = client.get_redis_connection(node).connection_pool
        else:
            assert isinstance(self._client, redis.Redis)
            pool = self._client.connection_pool
        kwargs = {**pool.connection_kwargs, "socket_timeout": timeout}
        own = redis.ConnectionPool(
            connection_class=pool.connection_class, max_connections=1, **kwargs
        )
        return redis.Redis(connection_pool=own)

    def ping(self) -> None:
        """Pass if Redis answers: for a Cluster, if any primary does."""
        if not self._cluster:
            guard(self._client.ping)
            return
        client: Any = self._client
        nodes: list[Any] = guard(client.get_primaries)
        failures = []
        for node in nodes:
            try:
                guard(client.get_redis_connection(node).ping)
                return
            except BackendUnavailable as error:
                failures.append(f"{node.name}: {error.detail}")
        raise BackendUnavailable(BACKEND, "no primary answers (" + "; ".join(failures) + ")")
