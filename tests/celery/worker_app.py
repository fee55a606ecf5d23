"""The app a ``celery worker`` subprocess runs (``celery -A tests.celery.worker_app``).

Configured by environment variables the test fixture sets:
``CTXCARRY_CELERY_BROKER``, ``CTXCARRY_CELERY_QUEUE``, ``CTXCARRY_CELERY_BACKEND``
(when results go elsewhere than the broker) and, for the OpenTelemetry
case, ``CTXCARRY_CELERY_OTEL=1`` (an SDK TracerProvider plus
opentelemetry-instrumentation-celery, set up in each worker process), and
``CTXCARRY_CELERY_JSON_LOGS=1`` for the JSON logging recipe of docs/logging.md.
``CTXCARRY_CELERY_SIDE=worker`` binds ``side="worker"`` in each worker process at startup
and installs a Carrier that excludes ``side`` (docs/logging.md, "Which keys to bind where").
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

import structlog
from celery.signals import setup_logging, worker_process_init

from ctxcarry import Carrier
from ctxcarry.adapters.celery import install
from ctxcarry.logs import json_logging_config, structlog_processors
from tests.celery.apps import build_app

app = build_app(
    "ctxcarry-celery-subprocess",
    os.environ.get("CTXCARRY_CELERY_BROKER", "redis://127.0.0.1:6379/3"),
    os.environ.get("CTXCARRY_CELERY_QUEUE", "ctxcarry-celery-subprocess"),
)
if os.environ.get("CTXCARRY_CELERY_BACKEND"):
    app.conf.result_backend = os.environ["CTXCARRY_CELERY_BACKEND"]


def _set_up_tracing(**_: Any) -> None:
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())
    CeleryInstrumentor().instrument()


if os.environ.get("CTXCARRY_CELERY_OTEL") == "1":
    # The instrumentor's recommended setup: per worker process, after the fork.
    worker_process_init.connect(_set_up_tracing, weak=False)
    if os.environ.get("CTXCARRY_CELERY_POOL", "prefork") != "prefork":
        _set_up_tracing()


def _json_logs(**_: Any) -> None:
    """The recipe of docs/logging.md: every line, Celery's own included, as JSON."""
    logging.config.dictConfig(json_logging_config("INFO"))
    structlog.configure(
        processors=structlog_processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )


if os.environ.get("CTXCARRY_CELERY_JSON_LOGS") == "1":
    setup_logging.connect(_json_logs, weak=False)
    app.conf.worker_redirect_stdouts = False


def _bind_side(**_: Any) -> None:
    """A process-level key bound as a contextvar at startup, as users do."""
    structlog.contextvars.bind_contextvars(side=os.environ["CTXCARRY_CELERY_SIDE"])


if os.environ.get("CTXCARRY_CELERY_SIDE"):
    install(app, Carrier(structlog_exclude={"side"}))
    worker_process_init.connect(_bind_side, weak=False)
    if os.environ.get("CTXCARRY_CELERY_POOL", "prefork") != "prefork":
        _bind_side()
