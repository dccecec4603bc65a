"""What the server's interceptors share: built handlers, remembered, and handlers of a shape.

grpcio asks every interceptor for a handler on every call. Each of ours wraps
the handler it is given once and returns the same wrapper after that: a new
one per call would cost the call its allocation, and defeat the caches of the
interceptors outside it, which remember wrappers by the handler they were given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeAlias, TypeVar

import grpc

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only
Behavior = Callable[..., Any]
Built = TypeVar("Built")

MAX_BUILT_HANDLERS = 1024
"""Wrappers one interceptor keeps. Ours build one per method; more can only come
from an interceptor further in that makes a new handler per call (OpenTelemetry's
does): the table is then emptied rather than grown."""


class BuiltHandlers(Generic[Built]):
    """What ``build(method, handler)`` made, once per (method, handler)."""

    def __init__(self, build: Callable[[str, Handler], Built]) -> None:
        self._build = build
        self._built: dict[tuple[str, Handler], Built] = {}

    def get(self, method: str, handler: Handler) -> Built:
        key = (method, handler)
        found = self._built.get(key)
        if found is None:
            if len(self._built) >= MAX_BUILT_HANDLERS:
                self._built.clear()
            found = self._built[key] = self._build(method, handler)
        return found


_MAKERS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def same_shape(
    handler: Handler,
    behavior: Behavior,
    *,
    deserializer: Callable[[bytes], Any] | None = None,
    serializer: Callable[[Any], bytes] | None = None,
) -> Handler:
    """A handler of ``handler``'s kind running ``behavior``, with its (de)serializers
    unless others are given."""
    make = _MAKERS[handler.request_streaming, handler.response_streaming]
    made: Handler = make(
        behavior,
        deserializer or handler.request_deserializer,
        serializer or handler.response_serializer,
    )
    return made
