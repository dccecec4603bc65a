"""One server's Prometheus metrics: its registry, the gRPC families, the HTTP endpoint.

The gRPC families are named as go-grpc-prometheus names them, so dashboards
and alerts written for any gRPC service work unchanged. Each ``Metrics`` has a
registry of its own, not prometheus_client's global one: a process (the test
suite) may run many servers, and each must count only its own calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from google.protobuf import descriptor_pool
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

# Seconds: a cache answers in well under a millisecond, so the default buckets
# (5 ms and up) would put nearly every call in the first one.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip

_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")


class GrpcMetrics:
    """The go-grpc-prometheus server families."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, *extra: str) -> Counter:
            return Counter(name, doc, (*_GRPC_LABELS, *extra), registry=registry)

        self.started = counter("grpc_server_started_total", "RPCs started on the server.")
        self.handled = counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status.",
            "grpc_code",
        )
        self.received = counter(
            "grpc_server_msg_received_total", "Stream messages received on the server."
        )
        self.sent = counter("grpc_server_msg_sent_total", "Stream messages sent by the server.")
        self.seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from a call's start until the server had its response or status.",
            _GRPC_LABELS,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    def method(self, full_method: str, request_streaming: bool, response_streaming: bool) -> Method:
        """The label children of one method (``/package.Service/Method``)."""
        service, _, name = full_method.lstrip("/").partition("/")
        labels = (grpc_type(service, name, request_streaming, response_streaming), service, name)
        return Method(self, labels)


class Method:
    """One method's label children, resolved once: a call only increments them."""

    __slots__ = ("_handled", "_labels", "_metrics", "received", "seconds", "sent", "started")

    def __init__(self, metrics: GrpcMetrics, labels: tuple[str, str, str]) -> None:
        self._metrics = metrics
        self._labels = labels
        self.started = metrics.started.labels(*labels)
        self.received = metrics.received.labels(*labels)
        self.sent = metrics.sent.labels(*labels)
        self.seconds = metrics.seconds.labels(*labels)
        self._handled: dict[grpc.StatusCode, Counter] = {}

    def handled(self, code: grpc.StatusCode) -> Counter:
        child = self._handled.get(code)
        if child is None:  # a race makes the same child twice: labels() returns one
            child = self._handled[code] = self._metrics.handled.labels(*self._labels, code.name)
        return child


_TYPES = {
    (False, False): "unary",
    (True, False): "client_stream",
    (False, True): "server_stream",
    (True, True): "bidi_stream",
}


def grpc_type(service: str, method: str, request_streaming: bool, response_streaming: bool) -> str:
    """The method's type as declared, from the default descriptor pool.

    The handler's own flags are a fallback only: the admission guard turns
    every unary-request handler into a stream-request one.
    """
    try:
        found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[method]
    except KeyError:
        return _TYPES[request_streaming, response_streaming]
    return _TYPES[found.client_streaming, found.server_streaming]


class Metrics:
    """A server's registry, its families, and the HTTP endpoint serving them at /metrics."""

    def __init__(self, listen: str) -> None:
        self.registry = CollectorRegistry()
        self.grpc = GrpcMetrics(self.registry)
        self._auth_refused = Counter(
            "contextstore_auth_refused_total",
            "Calls refused by authentication or authorization.",
            ("grpc_code",),
            registry=self.registry,
        )
        self._host, self._port = split_host_port(listen)
        self._httpd: WSGIServer | None = None

    def auth_refused(self, code: grpc.StatusCode) -> None:
        """The auth interceptor's ``on_refused`` hook: UNAUTHENTICATED or PERMISSION_DENIED."""
        self._auth_refused.labels(code.name).inc()

    @property
    def address(self) -> str:
        """HOST:PORT the endpoint listens on, the bound port once started."""
        if self._httpd is None:
            return join_host_port(self._host, self._port)
        host, port = self._httpd.server_address[:2]
        return join_host_port(str(host), int(port))

    def start(self) -> None:
        try:
            self._httpd, _ = start_http_server(self._port, addr=self._host, registry=self.registry)
        except OSError as error:
            raise OSError(f"could not serve metrics on {self.address}: {error}") from error

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()  # returns once serve_forever has
            self._httpd.server_close()


def split_host_port(address: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``; ValueError naming the setting otherwise."""
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(
            f"--metrics-listen / CONTEXTSTORE_METRICS_LISTEN: {address!r} is not HOST:PORT"
        )
    return host.removeprefix("[").removesuffix("]"), int(port)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
