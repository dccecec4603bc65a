"""--tracing: one span per call, named by its method, through the otel extra; without the extra,
`serve --tracing` exits 2 naming it."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from server.observability.scrape import grpc_labels, scrape, value

from contextstore.client import ContextStoreClient
from contextstore.server import main as serve_main
from contextstore.server import wiring
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.observability import tracing

CONFIG = ServerConfig(listen="127.0.0.1:0", tracing=True, grace_seconds=0)
SERVICE = "contextstore.v1.ContextStoreService"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Spans of servers built from now on, kept in memory instead of exported."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(
        wiring, "tracing_interceptor", lambda: tracing.tracing_interceptor(provider)
    )
    return exporter


@pytest.fixture
def server(spans: InMemorySpanExporter) -> Iterator[Server]:
    server = wiring.build_server(dataclasses.replace(CONFIG, metrics_listen="127.0.0.1:0"))
    server.start()
    yield server
    server.stop(grace=0)


def test_one_span_per_call_named_by_its_method(server: Server, spans: InMemorySpanExporter) -> None:
    with ContextStoreClient(server.address, timeout=10) as client:
        client.cache_file("a.py", b"x")
        client.get_file("a.py")
        client.get_file("b.py")
    finished = spans.get_finished_spans()
    assert [span.name for span in finished] == [
        f"/{SERVICE}/CacheFile", f"/{SERVICE}/GetFile", f"/{SERVICE}/GetFile",
    ]  # fmt: skip
    assert [span.attributes and span.attributes["rpc.method"] for span in finished] == [
        "CacheFile", "GetFile", "GetFile",
    ]  # fmt: skip
    # Metrics still count every call beside the spans.
    handled = value(scrape(server), "grpc_server_handled_total", **grpc_labels("GetFile"),
                    grpc_code="NOT_FOUND")  # fmt: skip
    assert handled == 1


def test_tracing_off_adds_no_interceptor() -> None:
    assert wiring.outer_interceptors(dataclasses.replace(CONFIG, tracing=False)) == []


def test_without_the_extra_serve_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.grpc", None)  # not installed
    with pytest.raises(tracing.TracingUnavailable):
        tracing.tracing_interceptor()
    assert serve_main.main(["--listen", "127.0.0.1:0", "--tracing"]) == 2
    err = capsys.readouterr().err
    assert "otel extra" in err and "--tracing" in err and "Traceback" not in err
