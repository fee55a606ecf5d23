"""The app a ``celery worker`` subprocess runs (``celery -A tests.celery.worker_app``).

Configured by environment variables the test fixture sets:
``CTXCARRY_CELERY_BROKER``, ``CTXCARRY_CELERY_QUEUE``, ``CTXCARRY_CELERY_BACKEND``
(when results go elsewhere than the broker) and, for the OpenTelemetry
case, ``CTXCARRY_CELERY_OTEL=1`` (an SDK TracerProvider plus
opentelemetry-instrumentation-celery, set up in each worker process).
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_process_init

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
