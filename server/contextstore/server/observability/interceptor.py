"""``Observer``: the outermost interceptor, counting and logging every call.

It runs outside the admission guard, so calls the guard refuses (and, further
in, calls auth refuses) are counted like any other. Metrics and the access log
share it: both need the same three facts of a call (its code, its duration,
who made it), found once. It exists only when one of them is on.

A call's outcome is recorded before its response is returned to grpcio: a
client that has its response and then scrapes sees its call counted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc

from contextstore.server.callinfo import CURRENT, CallInfo
from contextstore.server.handlers import Behavior, BuiltHandlers, Handler, same_shape
from contextstore.server.observability.logs import AccessLog
from contextstore.server.observability.metrics import GrpcMetrics, Method


class Observer(grpc.ServerInterceptor):
    """Metrics (``metrics``) and the access log (``access``) of every call; either may be off."""

    def __init__(
        self,
        metrics: GrpcMetrics | None,
        access: AccessLog | None,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._metrics = metrics
        self._access = access
        self._clock = clock
        self._built = BuiltHandlers(self._wrap)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:  # no such method: grpcio answers UNIMPLEMENTED, unlabelled
            return None
        return self._built.get(handler_call_details.method, handler)

    def _wrap(self, method: str, handler: Handler) -> Handler:
        metered = None
        if self._metrics is not None:
            metered = self._metrics.method(
                method, handler.request_streaming, handler.response_streaming
            )
        call = _Call(method, metered, self._access, self._clock)
        deserializer = handler.request_deserializer
        if metered is not None:
            deserializer = _counting(deserializer, metered)
        streaming_requests = handler.request_streaming
        if handler.response_streaming:
            inner = handler.stream_stream if streaming_requests else handler.unary_stream
            assert inner is not None
            behavior = call.streaming(inner, streaming_requests)
        else:
            inner = handler.stream_unary if streaming_requests else handler.unary_unary
            assert inner is not None
            behavior = call.unary(inner, streaming_requests)
        return same_shape(handler, behavior, deserializer=deserializer)


def _counting(deserializer: Callable[[bytes], Any] | None, metered: Method) -> Any:
    """``deserializer`` counting each message received (grpcio calls it once per message)."""
    received = metered.received.inc

    def parse(data: bytes) -> Any:
        received()
        return data if deserializer is None else deserializer(data)

    return parse


class _Call:
    """The behaviours of one method's calls, wrapped."""

    def __init__(
        self,
        method: str,
        metered: Method | None,
        access: AccessLog | None,
        clock: Callable[[], float],
    ) -> None:
        self.method = method
        self.metered = metered
        self.access = access
        self.clock = clock

    def unary(self, inner: Behavior, streaming_requests: bool) -> Behavior:
        """A behaviour returning one response."""
        if self.access is None and self.metered is not None:
            return self._metered_unary(inner, self.metered)

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            info = CallInfo(self.method)
            token = CURRENT.set(info)
            sizes = self._begin()
            start = self.clock()
            try:
                if sizes is not None:
                    request = sizes.requests(request, streaming_requests)
                response = inner(request, context)
            except BaseException:
                self._end(context, start, info, sizes, sent=0, failed=True)
                raise
            else:
                if sizes is not None:
                    sizes.response += _size(response)
                self._end(context, start, info, sizes, sent=response is not None, failed=False)
                return response
            finally:
                CURRENT.reset(token)

        return behavior

    def _metered_unary(self, inner: Behavior, metered: Method) -> Behavior:
        """``unary`` with metrics alone, on every call's path: only what metrics need.

        No ``CallInfo``: its one reader is the access log, which is off.
        """
        started, observe, sent = metered.started.inc, metered.seconds.observe, metered.sent.inc
        handled, clock = metered.handled, self.clock

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            started()
            start = clock()
            try:
                response = inner(request, context)
            except BaseException:
                handled(status_code(context, True)).inc()
                observe(clock() - start)
                raise
            handled(status_code(context, False)).inc()
            observe(clock() - start)
            if response is not None:
                sent()
            return response

        return behavior

    def streaming(self, inner: Behavior, streaming_requests: bool) -> Behavior:
        """A behaviour returning a stream of responses."""

        def behavior(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            info = CallInfo(self.method)
            token = CURRENT.set(info)
            sizes = self._begin()
            start = self.clock()
            sent = 0
            try:
                if sizes is not None:
                    request = sizes.requests(request, streaming_requests)
                for response in inner(request, context):
                    sent += 1
                    if sizes is not None:
                        sizes.response += _size(response)
                    yield response
            except BaseException:
                self._end(context, start, info, sizes, sent=sent, failed=True)
                raise
            else:
                self._end(context, start, info, sizes, sent=sent, failed=False)
            finally:
                _reset(token)

        return behavior

    def _begin(self) -> _Sizes | None:
        if self.metered is not None:
            self.metered.started.inc()
        return _Sizes() if self.access is not None else None

    def _end(
        self,
        context: grpc.ServicerContext,
        start: float,
        info: CallInfo,
        sizes: _Sizes | None,
        *,
        sent: int,
        failed: bool,
    ) -> None:
        seconds = self.clock() - start
        code = status_code(context, failed)
        metered = self.metered
        if metered is not None:
            metered.handled(code).inc()
            metered.seconds.observe(seconds)
            if sent:
                metered.sent.inc(sent)
        if self.access is not None and sizes is not None:
            self.access.write(info, code, seconds, context.peer(), sizes.request, sizes.response)


def status_code(context: grpc.ServicerContext, failed: bool) -> grpc.StatusCode:
    """The code the call ends with, as grpcio will send it."""
    # Set by abort() or set_code(); grpcio has code() (1.38+), its type stubs do not.
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    if code is not None:
        return code
    if not failed:
        return grpc.StatusCode.OK
    # An exception without a code: UNKNOWN, unless the call had already ended.
    return grpc.StatusCode.CANCELLED if not context.is_active() else grpc.StatusCode.UNKNOWN


def _reset(token: Any) -> None:
    # A stream abandoned by its client is closed by the garbage collector,
    # maybe on another thread, where the token is not valid: nothing to reset.
    with contextlib.suppress(ValueError):
        CURRENT.reset(token)


class _Sizes:
    """Request and response bytes of one call (access log only)."""

    __slots__ = ("request", "response")

    def __init__(self) -> None:
        self.request = 0
        self.response = 0

    def requests(self, request: Any, streaming: bool) -> Any:
        if not streaming:
            self.request += _size(request)
            return request
        return self._counted(request)

    def _counted(self, requests: Iterable[Any]) -> Iterator[Any]:
        for request in requests:
            self.request += _size(request)
            yield request


def _size(message: Any) -> int:
    """Bytes of a message on the wire; the guard hands some over already serialized."""
    if isinstance(message, bytes):
        return len(message)
    byte_size = getattr(message, "ByteSize", None)
    return byte_size() if byte_size is not None else 0  # e.g. a request that did not parse
