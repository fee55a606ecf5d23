"""The real ``rq worker``'s settings module (``-c tests.rq.worker_settings``).

What a user's worker settings module does: install the adapter, and the
peers when asked. The environment chooses (set by ``tests/rq/conftest.py``):

- ``CTXCARRY_RQ_INSTALL=0``: a worker without the adapter (mixed deploys);
- ``CTXCARRY_RQ_OTEL=ours-first|otel-first``: opentelemetry-instrumentation-rq,
  instrumented after or before ``install()``; spans go to ``CTXCARRY_RQ_SPANS``;
- ``CTXCARRY_RQ_SENTRY=1``: sentry-sdk with its RQ integration (no network);
- ``CTXCARRY_RQ_LOG``: every ``rq`` and ``ctxcarry`` log record, with the
  structlog contextvars current when it was emitted, as JSON lines.

It deliberately does not import ``tests.rq.jobs``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any

import structlog

from ctxcarry.adapters import rq as ctxcarry_rq


class ContextLines(logging.Handler):
    """Writes each record with the structlog context it was emitted in (what a
    structlog ProcessorFormatter with ``merge_contextvars`` would print)."""

    def __init__(self, path: str) -> None:
        super().__init__(logging.INFO)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        from opentelemetry import trace

        span = trace.get_current_span().get_span_context()
        line = {
            "span_id": format(span.span_id, "016x") if span.is_valid else None,
            "logger": record.name,
            "level": record.levelname,
            "message": record.getMessage(),
            "context": {k: str(v) for k, v in structlog.contextvars.get_contextvars().items()},
            "pid": os.getpid(),
        }
        with open(self.path, "a") as out:
            out.write(json.dumps(line) + "\n")


class SpanLines:
    """A span exporter writing finished spans as JSON lines."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        with open(self.path, "a") as out:
            for span in spans:
                parent = span.parent
                out.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "trace_id": format(span.context.trace_id, "032x"),
                            "span_id": format(span.context.span_id, "016x"),
                            "parent_id": format(parent.span_id, "016x") if parent else None,
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _otel() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanLines(os.environ["CTXCARRY_RQ_SPANS"])))
    trace.set_tracer_provider(provider)


def _instrument_rq() -> None:
    from opentelemetry_instrumentation_rq import RQInstrumentor

    # 0.1.4 raises on rq 3 after wrapping enqueue, schedule, dependencies,
    # Worker.perform_job and Job.perform: it also wraps Job.execute_*_callback,
    # which rq 3 no longer has. What it wrapped stays wrapped.
    with contextlib.suppress(Exception):
        RQInstrumentor().instrument()


def _sentry() -> None:
    import sentry_sdk
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        integrations=[RqIntegration()],
        traces_sample_rate=1.0,
        default_integrations=False,
        transport=lambda envelope: None,
    )


if os.environ.get("CTXCARRY_RQ_LOG"):
    handler = ContextLines(os.environ["CTXCARRY_RQ_LOG"])
    for name in ("rq", "ctxcarry"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)

if os.environ.get("CTXCARRY_RQ_SENTRY") == "1":
    _sentry()

otel = os.environ.get("CTXCARRY_RQ_OTEL", "")
if otel:
    _otel()
if otel == "otel-first":
    _instrument_rq()
if os.environ.get("CTXCARRY_RQ_INSTALL", "1") == "1":
    ctxcarry_rq.install()
if otel == "ours-first":
    _instrument_rq()
