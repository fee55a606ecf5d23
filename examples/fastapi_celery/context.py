"""What both processes share: the QueueVar, the JSON logging and the tracer.

The web process and the worker both import this module (the worker through
``install(app, queuevars=["context"])`` in ``tasks.py``), so the ``tenant``
QueueVar exists in both, whatever else either of them imports.
"""

from __future__ import annotations

import logging.config

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ctxcarry import QueueVar
from ctxcarry.logs import json_logging_config, structlog_processors

#: Travels with every task enqueued while it is set; on every log line as "tenant".
tenant: QueueVar[str | None] = QueueVar("tenant", default=None)


def configure_logging(level: str = "INFO") -> None:
    """Every record, structlog's and stdlib's, as one JSON line on stderr, with the context."""
    logging.captureWarnings(True)  # Python warnings as JSON lines too
    logging.config.dictConfig(json_logging_config(level, loggers={"uvicorn.access": level}))
    structlog.configure(
        processors=structlog_processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_tracing() -> None:
    """An SDK tracer provider, so spans have real trace ids (no exporter: ids only)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
