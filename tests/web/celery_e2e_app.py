"""The Celery app of the end-to-end tests: imported by the web side and by a real worker.

The worker runs in its own process (``celery -A tests.web.celery_e2e_app worker``)
and writes its structlog lines as JSON to ``CTXCARRY_WEB_E2E_LOG``; the web side
(the test process) only publishes. Redis database 12 and a queue of the run's own
(``CTXCARRY_WEB_E2E_QUEUE``, chosen by the test process and inherited by the worker) keep
it apart from every other test area and from a concurrent run; the run's keys, which all
name its queue, are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid

import structlog
from celery import Celery

from ctxcarry.adapters.celery import install

BROKER_URL = os.environ.get("CTXCARRY_WEB_E2E_BROKER", "redis://127.0.0.1:6379/12")
QUEUE = os.environ.setdefault("CTXCARRY_WEB_E2E_QUEUE", f"ctxcarry-web-e2e-{uuid.uuid4().hex[:8]}")
LOG_PATH_VARIABLE = "CTXCARRY_WEB_E2E_LOG"

app = Celery("ctxcarry_web_e2e", broker=BROKER_URL)
app.conf.update(
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_ignore_result=True,
)
install(app)

if os.environ.get(LOG_PATH_VARIABLE):  # only in the worker process
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(
            open(os.environ[LOG_PATH_VARIABLE], "a", buffering=1)  # noqa: SIM115
        ),
        cache_logger_on_first_use=False,
    )


@app.task(name="web_e2e.record")
def record(note: str) -> None:
    """Log one line; the worker's structlog config merges the carried context into it."""
    structlog.get_logger("web_e2e").info("celery task ran", note=note)
