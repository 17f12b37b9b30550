"""OpenTelemetry set-up and span helpers that never raise.

``setup_telemetry()`` is called once per process (web process at app ready,
each Celery worker child at ``worker_process_init``). The mode comes from
``settings.OTEL_MODE``: ``off``, ``console``, ``otlp`` or ``memory`` (tests).

Telemetry is optional: a missing package, an exporter that is down or a tracer
that raises is logged once and ignored. Nothing here may fail a request or a
task. What does not belong here: business metrics (see ``apps.ops``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, Any] = {"configured": False, "provider": None, "memory_exporter": None}
_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key in _warned:
        return
    _warned.add(key)
    logger.warning(message, *args, exc_info=True)


class SafeSpanProcessor(SpanProcessor):
    """Wrap a span processor so that its failures never reach the caller."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        try:
            self._inner.on_start(span, parent_context=parent_context)
        except Exception:
            _warn_once(f"start:{id(self._inner)}", "span processor failed on start; ignored")

    def on_end(self, span: Any) -> None:
        try:
            self._inner.on_end(span)
        except Exception:
            _warn_once(f"end:{id(self._inner)}", "span processor failed on end; ignored")

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self._inner.force_flush(timeout_millis))
        except Exception:
            return False

    # Newer SDKs call these hooks; forward them when the inner processor has them.
    def _on_ending(self, span: Any) -> None:
        hook = getattr(self._inner, "_on_ending", None)
        if hook is not None:
            with contextlib.suppress(Exception):
                hook(span)


def setup_telemetry(mode: str | None = None, *, force: bool = False) -> None:
    """Configure the tracer provider and instrumentations. Idempotent and safe."""
    try:
        _setup(mode, force=force)
    except Exception:
        _warn_once("setup", "telemetry set-up failed; the service runs without tracing")


def _setup(mode: str | None, *, force: bool) -> None:
    from django.conf import settings

    with _lock:
        if _state["configured"] and not force:
            return
        mode = (mode or settings.OTEL_MODE or "off").lower()
        _state["configured"] = True
        _instrument_logging()  # logs carry the trace id whatever the mode ("0": none)
        if mode == "off":
            return

        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )

        resource = Resource.create({"service.name": settings.OTEL_SERVICE_NAME})
        provider = TracerProvider(resource=resource)
        if mode == "console":
            provider.add_span_processor(
                SafeSpanProcessor(BatchSpanProcessor(ConsoleSpanExporter()))
            )
        elif mode == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
            exporter = OTLPSpanExporter(endpoint=endpoint, timeout=2)
            provider.add_span_processor(SafeSpanProcessor(BatchSpanProcessor(exporter)))
        elif mode == "memory":
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            memory = InMemorySpanExporter()
            _state["memory_exporter"] = memory
            provider.add_span_processor(SafeSpanProcessor(SimpleSpanProcessor(memory)))
        elif mode == "file":
            exporter = _file_exporter()
            provider.add_span_processor(SafeSpanProcessor(SimpleSpanProcessor(exporter)))
        else:
            logger.warning("unknown OTEL_MODE %r; tracing stays off", mode)
            return

        if _state["provider"] is None:
            trace.set_tracer_provider(provider)
            _state["provider"] = provider
        else:
            # The global provider can only be set once per process: re-use it.
            for processor in provider._active_span_processor._span_processors:
                _state["provider"].add_span_processor(processor)
        _instrument()


def _file_exporter() -> Any:
    """Append finished spans as JSON lines to ``OTEL_FILE_PATH`` (integration tests)."""
    import json
    import os

    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    path = os.environ["OTEL_FILE_PATH"]

    class JsonLinesExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            with open(path, "a", encoding="utf-8") as handle:
                for span in spans:
                    ctx = span.get_span_context()
                    handle.write(
                        json.dumps(
                            {
                                "name": span.name,
                                "trace_id": format(ctx.trace_id, "032x"),
                                "span_id": format(ctx.span_id, "016x"),
                                "pid": os.getpid(),
                                "attributes": {k: str(v) for k, v in span.attributes.items()},
                            }
                        )
                        + "\n"
                    )
            return SpanExportResult.SUCCESS

    return JsonLinesExporter()


def _instrument() -> None:
    """Turn on each instrumentation on its own: one missing package skips only itself."""
    instrumentors = [
        ("opentelemetry.instrumentation.django", "DjangoInstrumentor"),
        ("opentelemetry.instrumentation.celery", "CeleryInstrumentor"),
        ("opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
        ("opentelemetry.instrumentation.redis", "RedisInstrumentor"),
    ]
    import importlib

    for module_name, class_name in instrumentors:
        try:
            instrumentor = getattr(importlib.import_module(module_name), class_name)()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument()
        except Exception:
            _warn_once(f"instr:{class_name}", "could not enable %s; skipped", class_name)


def _instrument_logging() -> None:
    """OpenTelemetry's logging instrumentation: every log record gets ``otelTraceID``
    (and ``otelSpanID``), which the ``LOGGING`` format prints as ``trace=<id>``."""
    try:
        from opentelemetry.instrumentation.logging import LoggingInstrumentor

        instrumentor = LoggingInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(
                set_logging_format=False,  # the format is LOGGING's (config/settings/base.py)
                inject_trace_context=True,
                enable_log_auto_instrumentation=False,  # no OpenTelemetry log export
            )
    except Exception:
        _warn_once("instr:logging", "could not enable the logging instrumentation; skipped")


def memory_exporter() -> Any:
    """The in-memory exporter of ``memory`` mode (tests), or None."""
    return _state["memory_exporter"]


def current_trace_id() -> str:
    """The current trace id as 32 hex characters, or "" when there is none."""
    try:
        from opentelemetry import trace

        ctx = trace.get_current_span().get_span_context()
        if ctx is None or not ctx.is_valid:
            return ""
        return format(ctx.trace_id, "032x")
    except Exception:
        _warn_once("trace_id", "could not read the current trace id")
        return ""


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """Start a span around a block; if tracing fails, the block still runs once."""
    manager: Any = None
    current: Any = None
    try:
        from opentelemetry import trace

        manager = trace.get_tracer("storefront").start_as_current_span(name)
        current = manager.__enter__()
        for key, value in attributes.items():
            current.set_attribute(key, value)
    except Exception:
        _warn_once(f"span:{name}", "could not start span %s; continuing without it", name)
        manager = None
    try:
        yield current
    finally:
        if manager is not None:
            try:
                manager.__exit__(*sys.exc_info())
            except Exception:
                _warn_once(f"span-end:{name}", "could not end span %s", name)


def set_attribute(key: str, value: Any) -> None:
    """Set an attribute on the current span, if any. Never raises."""
    try:
        from opentelemetry import trace

        trace.get_current_span().set_attribute(key, value)
    except Exception:
        _warn_once(f"attr:{key}", "could not set span attribute %s", key)
