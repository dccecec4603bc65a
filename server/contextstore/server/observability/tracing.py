"""``--tracing``: a span per call, by opentelemetry-instrumentation-grpc (the ``otel`` extra).

The exporter is OTLP over gRPC, configured as every OpenTelemetry SDK is, by
the standard variables: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default
http://localhost:4317), ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*`` for batching. A process whose
global tracer provider is already an SDK one (``opentelemetry-instrument``)
keeps it.
"""

from __future__ import annotations

from typing import Any

import grpc

EXTRA_MISSING = (
    "--tracing / CONTEXTSTORE_TRACING needs the otel extra: "
    "pip install 'contextstore-grpc[server,otel]'"
)


class TracingUnavailable(ValueError):
    """The otel extra is not installed: a setting this installation cannot honour."""


def tracing_interceptor(tracer_provider: Any = None) -> grpc.ServerInterceptor:
    """The instrumentation's server interceptor; ``tracer_provider`` None: the default one."""
    try:
        from opentelemetry.instrumentation.grpc import server_interceptor
    except ImportError as error:
        raise TracingUnavailable(EXTRA_MISSING) from error
    provider = tracer_provider if tracer_provider is not None else default_provider()
    interceptor: grpc.ServerInterceptor = server_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]
    return interceptor


def default_provider() -> Any:
    """The global SDK provider if one is set, else one exporting OTLP as OTEL_* say."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as error:
        raise TracingUnavailable(EXTRA_MISSING) from error
    # Resource.create() (the default) reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES;
    # the provider flushes its spans at exit.
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
