"""What a ``dramatiq tests.dramatiq.worker_app`` subprocess runs.

Configured by the environment variables the test fixture sets:
``CTXCARRY_DRAMATIQ_KIND`` (``redis`` or ``rabbitmq``), ``CTXCARRY_DRAMATIQ_URL``,
``CTXCARRY_DRAMATIQ_NAMESPACE``, ``CTXCARRY_DRAMATIQ_QUEUE``,
``CTXCARRY_DRAMATIQ_REPORTS`` (the Redis URL reports go to),
``CTXCARRY_DRAMATIQ_INSTALL=0`` (a worker without the adapter),
``CTXCARRY_DRAMATIQ_LOG`` (a file: every log line, the worker's own included,
as JSON with the structlog contextvars merged in) and
``CTXCARRY_DRAMATIQ_SENTRY`` (a file: sentry-sdk with its Dramatiq integration,
initialised before the broker as Sentry requires, writes its envelopes there) and
``CTXCARRY_DRAMATIQ_OTEL=1`` (the third-party opentelemetry-instrumentor-dramatiq).
Each worker process has an OpenTelemetry SDK TracerProvider, so spans made in
actors get real ids.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from tests.dramatiq.app import build_app


def _set_up_logging(path: str) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
    ]
    structlog.configure(
        processors=[*processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.FileHandler(path)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=processors,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _set_up_sentry(path: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    from sentry_sdk.transport import Transport

    class FileTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            with open(path, "a") as out:
                for item in envelope.items:
                    payload = item.payload.json
                    if payload is not None:
                        out.write(json.dumps({"type": item.type, "payload": payload}) + "\n")

    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=FileTransport,
        traces_sample_rate=1.0,
        default_integrations=False,
        integrations=[DramatiqIntegration()],
    )


if os.environ.get("CTXCARRY_DRAMATIQ_LOG"):
    _set_up_logging(os.environ["CTXCARRY_DRAMATIQ_LOG"])
if os.environ.get("CTXCARRY_DRAMATIQ_SENTRY"):
    _set_up_sentry(os.environ["CTXCARRY_DRAMATIQ_SENTRY"])
trace.set_tracer_provider(TracerProvider())
if os.environ.get("CTXCARRY_DRAMATIQ_OTEL") == "1":
    from opentelemetry_instrumentor_dramatiq import DramatiqInstrumentor

    DramatiqInstrumentor().instrument()

app = build_app(
    os.environ.get("CTXCARRY_DRAMATIQ_KIND", "redis"),
    os.environ.get("CTXCARRY_DRAMATIQ_URL", "redis://127.0.0.1:6379/8"),
    os.environ.get("CTXCARRY_DRAMATIQ_NAMESPACE", "ctxcarry-dramatiq"),
    os.environ.get("CTXCARRY_DRAMATIQ_QUEUE", "ctxcarry-dramatiq"),
    os.environ.get("CTXCARRY_DRAMATIQ_REPORTS", "redis://127.0.0.1:6379/8"),
    installed=os.environ.get("CTXCARRY_DRAMATIQ_INSTALL", "1") == "1",
)
broker = app.broker
structlog.get_logger("tests.dramatiq").info(
    "middleware order", order=[type(middleware).__name__ for middleware in broker.middleware]
)
