"""Watch streams that resume on their own: ``Watch`` (blocking) and ``AsyncWatch``.

A Watch call lasts as long as the caller wants it, so connections drop, and
servers end streams on purpose (restarts, ``--watch-max-stream-seconds``).
Both iterators remember the revision of the last response they yielded and,
when the stream ends with UNAVAILABLE, open another from that revision: the
server replays what came after it, so the caller sees neither a gap nor a
repeat. ``Resume`` holds that policy once for both. A start revision the
server no longer retains raises ``RevisionCompacted``, which is not resumed:
the caller re-reads (``list_files_page`` gives a revision) and watches again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import grpc

from contextstore.client import _calls as calls
from contextstore.client.errors import ContextStoreError, Unavailable, from_rpc_error
from contextstore.client.models import WatchResponse
from contextstore.v1 import context_store_pb2 as pb

R = TypeVar("R")

RESUME_TIMEOUT = 30.0
"""Seconds a watch keeps resuming without receiving anything before it raises:
long enough for a server to restart (and the channel to reconnect)."""
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0


class Resume:
    """Where a watch resumes from, and how long it waits before trying again."""

    def __init__(
        self,
        start_revision: int,
        patience: float = RESUME_TIMEOUT,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.revision = start_revision
        self._patience = patience
        self._timer = timer
        self._failing_since: float | None = None
        self._attempts = 0

    def received(self, revision: int) -> None:
        self.revision = revision
        self._failing_since, self._attempts = None, 0

    def backoff(self, error: ContextStoreError) -> float | None:
        """Seconds to wait before resuming after ``error``; None: raise it."""
        if error.code != grpc.StatusCode.UNAVAILABLE:
            return None
        now = self._timer()
        if self._failing_since is None:
            self._failing_since = now
        left = self._failing_since + self._patience - now
        if left <= 0:
            return None
        self._attempts += 1
        # The first at once (a server ending a stream on purpose is up), then backing off.
        if self._attempts == 1:
            return 0.0
        delay: float = FIRST_BACKOFF * 2.0 ** (self._attempts - 2)
        return min(MAX_BACKOFF, delay, left)


_ENDED = "the server ended the stream"


class _Reopening:
    """What both iterators keep: the call in progress, and how to open the next one."""

    def __init__(
        self,
        stub: Any,
        session: str | None,
        start_revision: int,
        path_prefix: str,
        resume_timeout: float,
    ) -> None:
        self.resume = Resume(start_revision, resume_timeout)
        self.call: Any = None
        self._stub, self._session, self._prefix = stub, session, path_prefix

    def current(self) -> Any:
        """The call in progress, opened from the last revision received if there is none."""
        if self.call is None:
            request = calls.watch_request(self._session, self.resume.revision, self._prefix)
            self.call = self._stub.Watch(request)
        return self.call

    def failed(self, error: ContextStoreError) -> float:
        """The call ended with ``error``: seconds to wait before the next, or raise it."""
        self.call = None
        wait = self.resume.backoff(error)
        if wait is None:
            raise error
        return wait

    def cancel(self) -> None:
        if self.call is not None:
            self.call.cancel()


class Watch(Iterator[R]):
    """A namespace's changes as they happen, blocking; ``close()`` (or ``with``) ends it.

    Yields what ``parse`` makes of each ``WatchResponse`` message: a typed
    ``WatchResponse`` from the clients, the message itself for the CLI.
    """

    def __init__(
        self,
        stub: Any,
        session: str | None,
        start_revision: int,
        path_prefix: str,
        resume_timeout: float = RESUME_TIMEOUT,
        parse: Callable[[pb.WatchResponse], R] = calls.watch_response,  # type: ignore[assignment]
    ) -> None:
        self._parse = parse
        self._stream = _Reopening(stub, session, start_revision, path_prefix, resume_timeout)
        self._closed = threading.Event()

    @property
    def revision(self) -> int:
        """The revision of the last response yielded (the start revision before any)."""
        return self._stream.resume.revision

    def __iter__(self) -> Watch[R]:
        return self

    def __next__(self) -> R:
        while not self._closed.is_set():
            try:
                message = next(self._stream.current())
            except StopIteration:
                error: ContextStoreError = Unavailable(grpc.StatusCode.UNAVAILABLE, _ENDED)
            except grpc.RpcError as rpc_error:
                if self._closed.is_set():
                    break
                error = from_rpc_error(rpc_error)
            else:
                self._stream.resume.received(message.revision)
                return self._parse(message)
            self._closed.wait(self._stream.failed(error))  # a backoff close() cuts short
        raise StopIteration

    def close(self) -> None:
        self._closed.set()
        self._stream.cancel()

    def __enter__(self) -> Watch[R]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncWatch(AsyncIterator[WatchResponse]):
    """``Watch`` for asyncio: ``async for``, and ``await close()`` (or ``async with``)."""

    def __init__(
        self,
        stub: Any,
        session: str | None,
        start_revision: int,
        path_prefix: str,
        resume_timeout: float = RESUME_TIMEOUT,
    ) -> None:
        self._stream = _Reopening(stub, session, start_revision, path_prefix, resume_timeout)
        self._closed = asyncio.Event()

    @property
    def revision(self) -> int:
        return self._stream.resume.revision

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> WatchResponse:
        while not self._closed.is_set():
            try:
                message = await self._stream.current().read()
            except grpc.RpcError as rpc_error:
                if self._closed.is_set():
                    break
                error: ContextStoreError = from_rpc_error(rpc_error)
            else:
                if message is not grpc.aio.EOF:
                    response = calls.watch_response(message)
                    self._stream.resume.received(response.revision)
                    return response
                error = Unavailable(grpc.StatusCode.UNAVAILABLE, _ENDED)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self._stream.failed(error))
        raise StopAsyncIteration

    async def close(self) -> None:
        self._closed.set()
        self._stream.cancel()

    async def __aenter__(self) -> AsyncWatch:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
