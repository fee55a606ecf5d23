"""The Celery app: ``celery -A tasks worker`` (from this folder) runs its tasks.

``install(app, queuevars=["context"])`` makes every task run in the context of
the request that enqueued it (request_id, tenant, trace) and imports
``context`` in every process that installs the app, so the worker knows the
``tenant`` QueueVar. The ``setup_logging`` receiver keeps Celery from
configuring logging itself, and ``worker_redirect_stdouts = False`` keeps it
from wrapping each JSON line in its own format: Celery's own lines ("Task ...
succeeded") come out as JSON with the task's context too.
"""

from __future__ import annotations

import os
from typing import Any

import structlog
from celery import Celery
from celery.signals import setup_logging
from context import configure_logging, configure_tracing, tenant

from ctxcarry.adapters.celery import install

BROKER_URL = os.environ.get("EXAMPLE_BROKER_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("EXAMPLE_QUEUE", "fastapi-celery-example")

app = Celery("fastapi_celery_example", broker=BROKER_URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_redirect_stdouts=False,
    worker_hijack_root_logger=False,
    worker_enable_remote_control=False,
)
install(app, queuevars=["context"])
configure_tracing()
log = structlog.get_logger("tasks")


@setup_logging.connect(weak=False)
def _configure_logging(**_: Any) -> None:
    configure_logging()


@app.task(name="example.charge")
def charge(order_id: str) -> str:
    """Charge an order, then enqueue its receipt (the worker publishes that one)."""
    log.info("charging order", order_id=order_id, charged_for=tenant.get())
    send_receipt.delay(order_id)
    return order_id


@app.task(name="example.send_receipt")
def send_receipt(order_id: str) -> str:
    log.info("sending receipt", order_id=order_id)
    return order_id
