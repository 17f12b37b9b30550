"""Telemetry may fail in every way without failing a request."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from rest_framework.test import APIClient

from config.settings.base import LOGGING as BASE_LOGGING
from utils import telemetry


@pytest.fixture
def tracing() -> Iterator[Any]:
    """Turn tracing on in memory mode for one test (the provider is process-global)."""
    telemetry.setup_telemetry("memory", force=True)
    exporter = telemetry.memory_exporter()
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.mark.django_db
def test_request_is_traced_and_logs_carry_the_trace_id(
    tracing: Any, customer_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = customer_client.get("/api/v1/auth/me/")
    assert response.status_code == 200
    names = [span.name for span in tracing.get_finished_spans()]
    assert any("auth" in name or "GET" in name for name in names), names

    with telemetry.span("unit-test-span") as current:
        logging.getLogger("storefront.test").warning("inside a span")
        expected = format(current.get_span_context().trace_id, "032x")
    logging.getLogger("storefront.test").warning("outside any span")
    record = next(r for r in caplog.records if r.getMessage() == "inside a span")
    assert record.otelTraceID == expected  # type: ignore[attr-defined]
    outside = next(r for r in caplog.records if r.getMessage() == "outside any span")
    assert outside.otelTraceID == "0"  # type: ignore[attr-defined]
    # The project's log format prints it.
    plain = dict(BASE_LOGGING["formatters"]["plain"])  # type: ignore[index]
    formatter = logging.config.dictConfigClass({"version": 1}).configure_formatter(plain)  # type: ignore[attr-defined]
    assert f"trace={expected} inside a span" in formatter.format(record)


class _ExplodingProcessor:
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("tracer exploded on start")

    def on_end(self, span: Any) -> None:
        raise RuntimeError("tracer exploded on end")

    def shutdown(self) -> None:
        raise RuntimeError("no")

    def force_flush(self, timeout_millis: int = 0) -> bool:
        raise RuntimeError("no")


@pytest.mark.django_db
def test_request_succeeds_when_the_span_processor_raises(
    tracing: Any, customer_client: APIClient
) -> None:
    provider = trace.get_tracer_provider()
    provider.add_span_processor(telemetry.SafeSpanProcessor(_ExplodingProcessor()))  # type: ignore[attr-defined]
    response = customer_client.get("/api/v1/auth/me/")
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"


@pytest.mark.django_db
def test_request_succeeds_when_the_exporter_is_unreachable(customer_client: APIClient) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    telemetry.setup_telemetry("memory", force=True)
    processors = trace.get_tracer_provider()._active_span_processor  # type: ignore[attr-defined]
    before = processors._span_processors
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:9/v1/traces", timeout=1)
    trace.get_tracer_provider().add_span_processor(  # type: ignore[attr-defined]
        telemetry.SafeSpanProcessor(SimpleSpanProcessor(exporter))
    )
    try:
        response = customer_client.get("/api/v1/auth/me/")
        assert response.status_code == 200
        assert response.json()["email"] == "alice@example.com"
    finally:
        # The provider is process-wide: without this every later test's spans would
        # try the dead exporter too (and each one waits for it to refuse).
        processors._span_processors = before


def test_helpers_never_raise_when_the_tracer_itself_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer is broken")

    monkeypatch.setattr(trace, "get_tracer", broken)
    monkeypatch.setattr(trace, "get_current_span", broken)
    ran = []
    with telemetry.span("still-runs", key="value") as current:
        ran.append(current)
    assert ran == [None]
    assert telemetry.current_trace_id() == ""
    telemetry.set_attribute("k", "v")
    logging.getLogger("storefront.test").warning("with a broken tracer")  # still logs


def test_a_block_that_raises_inside_a_span_still_raises_its_own_error() -> None:
    with pytest.raises(ZeroDivisionError), telemetry.span("dividing"):
        _ = 1 / 0


def test_setup_with_a_missing_exporter_package_does_not_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_otlp(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry.exporter.otlp"):
            raise ImportError("package not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_otlp)
    telemetry.setup_telemetry("otlp", force=True)  # logs once, returns normally
