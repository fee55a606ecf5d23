"""The broker ``taskiq worker`` and ``taskiq scheduler`` load in the tests (from env)."""

from __future__ import annotations

import logging
import os

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from taskiq import AsyncBroker, TaskiqScheduler

from tests.taskiq.apps import make_broker
from tests.taskiq.transports import amqp_broker, redis_broker, schedule_source


def _configure_logging(path: str) -> None:
    """JSON lines with the structlog contextvars, for structlog and stdlib loggers."""
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
        ],
    )
    handler = logging.FileHandler(path)
    handler.setFormatter(formatter)
    for name in ("taskiq", "ctx.tests", "ctxcarry"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def _build() -> AsyncBroker:
    queue = os.environ["CTXCARRY_TASKIQ_QUEUE"]
    sink_url = os.environ["CTXCARRY_TASKIQ_SINK"]
    otel = os.environ.get("CTXCARRY_TASKIQ_OTEL", "none")
    if otel != "none":
        trace.set_tracer_provider(TracerProvider())
    if os.environ.get("CTXCARRY_TASKIQ_LOGFILE"):
        _configure_logging(os.environ["CTXCARRY_TASKIQ_LOGFILE"])
    transport = os.environ.get("CTXCARRY_TASKIQ_TRANSPORT", "redis")
    url = os.environ["CTXCARRY_TASKIQ_BROKER"]
    raw = amqp_broker(url, queue) if transport == "amqp" else redis_broker(url, queue)
    return make_broker(
        raw, sink_url, installed=os.environ.get("CTXCARRY_TASKIQ_INSTALLED") == "1", otel=otel
    )


broker = _build()
scheduler = TaskiqScheduler(
    broker,
    [schedule_source(os.environ["CTXCARRY_TASKIQ_SINK"], os.environ["CTXCARRY_TASKIQ_QUEUE"])],
)
