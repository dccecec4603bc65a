"""Admission and flow control for every call the server takes: ``CallGuard``.

What grpcio's threaded server leaves open to a misbehaving client, and how
each is closed here:

- A call waits for its request on a pool thread, for as long as the client
  likes: a few clients that never finish sending hold every thread. Here a call
  must receive its request within ``receive_timeout`` (``Watchdog``), the pool
  has a thread for every admitted call, and handlers run on at most
  ``workers`` of them at once: calls waiting for their request never keep
  others from running.
- grpcio's ``maximum_concurrent_rpcs`` frees a call's slot when its handler
  returns, not when its response has gone, so responses nobody reads pile up in
  memory. Here a call holds its slot until it ends (``context.add_callback``),
  and responses built but not yet sent are bounded in bytes.
- Request bytes that do not parse get INTERNAL and a traceback in the log per
  call from grpcio; here INVALID_ARGUMENT, logged at most once per interval.

The guard is the outermost interceptor, so it applies to every service (health
and reflection too); interceptors inside it see the handlers they would see
without it. Unary-request handlers become stream-request ones: that is what
lets the guard hold the call's context while its request is still arriving.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from contextstore.server.admission import Admission, Call
from contextstore.server.config import ServerConfig
from contextstore.server.handlers import Behavior, BuiltHandlers, Handler
from contextstore.server.ratelog import RateLimitedLog
from contextstore.server.watchdog import Watchdog
from contextstore.units import MiB

log = logging.getLogger("contextstore.server")


class Unparseable:
    """What a request that does not parse deserializes to, instead of raising."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


_NOTHING = object()  # the stream ended before a message


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    """``deserializer`` that returns ``Unparseable`` where it would raise.

    grpcio deserializes on its polling thread and answers a raise with INTERNAL
    and a logged traceback; a value lets the guard answer on the call's thread.
    """
    if deserializer is None:
        return lambda data: data

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as error:
            return Unparseable(error)

    return parse


class CallGuard(grpc.ServerInterceptor):
    """Admits calls, bounds their wait for a request and their unsent responses."""

    def __init__(self, config: ServerConfig, *, timer: Callable[[], float] = time.monotonic):
        self.workers = config.workers
        self.admission = Admission(config.max_concurrent_rpcs, config.max_inflight_response_bytes)
        # Long-lived response streams (Watch) are admitted apart and hold no
        # worker token: each has a pool thread of its own, counted in
        # ``pool_threads``, so open streams never take a unary call's room.
        self.streams = Admission(config.max_watchers, config.max_inflight_response_bytes)
        timed_out = RateLimitedLog(log, "requests_timed_out", timer=timer)
        self.watchdog = Watchdog(
            config.receive_timeout_seconds,
            on_cancel=lambda n: timed_out.note(
                f"receive_timeout_seconds={config.receive_timeout_seconds:g}", n
            ),
            timer=timer,
        )
        # Tokens, one per worker: a handler runs while it holds one. SimpleQueue
        # is C code; threading.Semaphore would add a Python-level lock per call.
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(config.workers):
            self._tokens.put(None)
        self._built = BuiltHandlers(self._handlers)
        self._busy = RateLimitedLog(log, "calls_refused", timer=timer)
        self._unparseable = RateLimitedLog(log, "requests_unparseable", timer=timer)

    @property
    def pool_threads(self) -> int:
        """Threads the server's pool needs: one per admitted call, and room to refuse."""
        return self.admission.max_calls + self.workers + self.streams.max_calls

    def start(self) -> None:
        self.watchdog.start()

    def stop(self) -> None:
        self.watchdog.stop()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:  # grpcio answers UNIMPLEMENTED itself
            return None
        method: str = handler_call_details.method
        guarded, refusal, admission = self._built.get(method, handler)
        return guarded if admission.admit() else refusal

    def _handlers(self, method: str, handler: Handler) -> tuple[Handler, Handler, Admission]:
        """The guarded and the refusing form of ``handler``, and what admits its calls."""
        # A unary response is serialized by the guard (to count its bytes).
        serializer = handler.response_serializer
        if not (handler.request_streaming or handler.response_streaming):
            serializer = None
        guarded = _wrap(handler, self._guarded(handler, method), serializer)
        admission = self.streams if _long_lived(handler) else self.admission
        return guarded, self._refusal(handler, method), admission

    # -- refusal ---------------------------------------------------------------

    def _refusal(self, handler: Handler, method: str) -> Handler:
        if _long_lived(handler):
            limit, flag = self.streams.max_calls, "max_watchers"
            message = f"server busy: {limit} streams open, the most --max-watchers allows"
        else:
            limit, flag = self.admission.max_calls, "max_concurrent_rpcs"
            message = (
                f"server busy: {limit} calls in progress, the most --max-concurrent-rpcs allows"
            )
        message += "; retry later"

        def refuse(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            self._busy.note(f"reason={flag} method={method}")
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)

        def refuse_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            yield refuse(requests, context)

        behavior = refuse_stream if handler.response_streaming else refuse
        return _wrap(handler, behavior, None, parse=False)

    # -- receiving -------------------------------------------------------------

    def _first(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        """The call's first request, or ``_NOTHING``; cancels the call if it is late."""
        watch = self.watchdog.watch(context.cancel)
        try:
            return next(requests, _NOTHING)
        finally:
            watch.arrived()

    def _check(self, request: Any, context: grpc.ServicerContext, method: str) -> Any:
        if isinstance(request, Unparseable):
            self._unparseable.note(f"method={method} peer={context.peer()}")
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request does not parse as the message {method} takes "
                f"(for example a string field that is not valid UTF-8): {request.error}",
            )
        return request

    def _one(self, requests: Iterator[Any], context: grpc.ServicerContext, method: str) -> Any:
        # Every unary call comes here: ``_first`` and ``_check`` spelled out, for their cost.
        watch = self.watchdog.watch(context.cancel)
        try:
            request = next(requests, _NOTHING)
        finally:
            watch.arrived()
        if request is _NOTHING:
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED, f"{method} requires exactly one request message"
            )
        if type(request) is Unparseable:
            self._check(request, context, method)
        return request

    def _stream(
        self, requests: Iterator[Any], context: grpc.ServicerContext, method: str
    ) -> Iterator[Any]:
        first = self._first(requests, context)
        if first is _NOTHING:
            return
        yield self._check(first, context, method)
        for request in requests:
            yield self._check(request, context, method)

    # -- behaviours ------------------------------------------------------------

    def _guarded(self, handler: Handler, method: str) -> Behavior:
        if handler.request_streaming:
            inner = handler.stream_stream or handler.stream_unary
            assert inner is not None

            def streaming(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
                self.admission.begin(context)
                return inner(self._stream(requests, context, method), context)

            return streaming
        if handler.response_streaming:
            assert handler.unary_stream is not None
            return self._unary_stream(handler.unary_stream, method)
        return self._unary_unary(handler, method)

    def _unary_stream(self, inner: Behavior, method: str) -> Behavior:
        def unary_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            self.streams.begin(context)
            yield from inner(self._one(requests, context, method), context)

        return unary_stream

    def _unary_unary(self, handler: Handler, method: str) -> Behavior:
        inner = handler.unary_unary
        assert inner is not None
        serialize = handler.response_serializer or (lambda response: response)

        def unary_unary(requests: Iterator[Any], context: grpc.ServicerContext) -> bytes:
            call = self.admission.begin(context)
            request = self._one(requests, context, method)
            self._tokens.get()
            try:
                data: bytes = inner(request, context)
                # Reads answer already encoded (``wire``): no serializer call for them.
                if type(data) is not bytes:
                    data = serialize(data)
            finally:
                self._tokens.put(None)
            self._reserve(call, len(data), context)
            return data

        return unary_unary

    def _reserve(self, call: Call, size: int, context: grpc.ServicerContext) -> None:
        """Count ``size`` bytes as unsent until the call ends, or refuse the call."""
        admission = self.admission
        if not admission.reserve(call, size):
            self._busy.note(f"reason=max_inflight_response_bytes size={size}")
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"responses not yet sent hold {_mib(admission.unsent)}; this {_mib(size)} "
                f"response would pass --max-inflight-response-bytes "
                f"({_mib(admission.max_bytes)}); retry later",
            )


def _long_lived(handler: Handler) -> bool:
    """A response stream that may stay open indefinitely: Watch, and health's Watch."""
    return handler.response_streaming and not handler.request_streaming


def _wrap(
    handler: Handler,
    behavior: Behavior,
    serializer: Callable[[Any], bytes] | None,
    *,
    parse: bool = True,
) -> Handler:
    """A stream-request handler running ``behavior``; ``serializer`` None passes bytes."""
    deserializer = tolerant(handler.request_deserializer) if parse else None
    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(behavior, deserializer, serializer)
    return grpc.stream_unary_rpc_method_handler(behavior, deserializer, serializer)


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB"
