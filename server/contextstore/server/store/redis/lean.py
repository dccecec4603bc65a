"""A Redis call at the cost of its round trip: the read path's share of redis-py, cut.

Profiled on a GetFile (``py-spy``, and a loop of ``get_file_wire``), redis-py's
``execute_command`` costs the server about twice the round trip's own CPU:
its pool takes a ``Condition`` lock, records metrics and polls the socket on
every checkout and release (about 10 µs), and the client wraps each call in
retries, observability and response callbacks (about 30 µs more). Our calls
need none of that: each is one ``FCALL`` whose reply we read as it comes.

So ``LeanPool`` hands out redis-py's own connections from a ``deque`` (LIFO,
so an idle server keeps few warm ones) behind a ``SimpleQueue`` of tokens
that bounds them to ``max_connections``: two C-level operations each way.
``call`` packs a command with hiredis and sends it on one such connection,
and reads the reply with redis-py's own parser. Everything else (pipelines,
``FUNCTION LOAD``, a cluster's redirections) still goes through redis-py as
usual, on the same pool.
"""

from __future__ import annotations

import os
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from queue import Empty, SimpleQueue
from time import monotonic
from typing import Any

import hiredis
import redis
import redis.exceptions as rx
from redis.connection import Connection, ConnectionInterface


class LeanPool(redis.BlockingConnectionPool):
    """A ``BlockingConnectionPool`` whose checkout takes no lock and records no metrics.

    The bound and the blocking wait (``timeout``) are the parent's; so are
    the connections (``make_connection``, kept in ``_connections``, so that
    ``disconnect`` closes them all). A connection idle for ``recheck_after``
    seconds or more is checked before it is handed out, as the parent checks
    every one: if it has something to read (Redis closed it, say after a
    restart) it is opened again, so an idle server pays nothing for a Redis
    that restarted meanwhile. One back in use sooner is not: the check is a
    system call (``poll``), about 9 µs a call here, and a Redis that went
    away within the last ``recheck_after`` failed calls anyway.
    """

    recheck_after = 0.5

    def reset(self) -> None:
        parent: Any = super()
        parent.reset()  # redis-py's methods are not all typed: they go through Any
        self._idle: deque[tuple[Any, float]] = deque()  # connections, and since when
        self._tokens: SimpleQueue[None] = SimpleQueue()
        for _ in range(self.max_connections):
            self._tokens.put(None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        # A forked child starts afresh, as with redis-py's pools (they compare
        # pids on every call, a system call each time; this costs nothing).
        reset = weakref.WeakMethod(self.reset)
        os.register_at_fork(after_in_child=lambda: _call_if_alive(reset))

    def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Connection:
        try:
            self._tokens.get(timeout=self.timeout)
        except Empty:
            raise rx.ConnectionError("No connection available.") from None
        connection: Any
        try:
            connection, since = self._idle.pop()
        except IndexError:
            connection, since = self.make_connection(), None  # type: ignore[no-untyped-call]
        try:
            connection.connect()
            idle = since is not None and monotonic() - since >= self.recheck_after
            if idle and _stale(connection):
                connection.disconnect()
                connection.connect()
        except BaseException:
            self.release(connection)
            raise
        checked: Connection = connection
        return checked

    def release(self, connection: ConnectionInterface) -> None:
        self._idle.append((connection, monotonic()))
        self._tokens.put(None)


def _stale(connection: Any) -> bool:
    """Whether a connection has something to read before we asked: then it is no good.

    Redis closed it (a restart, a ``CLIENT KILL``, a timeout) if reading raises.
    """
    try:
        return bool(connection.can_read())
    except (rx.ConnectionError, rx.TimeoutError, OSError):
        return True


def _call_if_alive(method: weakref.WeakMethod[Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()


def call(pool: redis.ConnectionPool, command: Sequence[Any]) -> Any:
    """Send ``command`` on a connection of ``pool`` and return its reply.

    An error reply raises its ``ResponseError`` (the connection stays good).
    A connection Redis had closed (a restart, a ``CLIENT KILL``, its idle
    timeout) fails on first use, however recently it was checked: the call is
    then made once more on that connection opened afresh, as redis-py's own
    client retries a connection error. Any other failure, or a second one,
    closes the connection, so the next user opens a fresh one, and raises as
    redis-py would; a timeout is never retried (Redis may still be working).
    """
    packed = [hiredis.pack_command(tuple(command))]
    try:
        return _send(pool, packed)
    except rx.TimeoutError:
        raise
    except rx.ConnectionError:
        # Released last, the closed connection is the one handed out next (LIFO).
        return _send(pool, packed)


def _send(pool: redis.ConnectionPool, packed: list[bytes]) -> Any:
    connection: Any = pool.get_connection()
    try:
        connection.send_packed_command(packed, check_health=False)
        return connection.read_response()
    except rx.ResponseError:
        raise
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
