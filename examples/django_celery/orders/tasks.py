"""The tasks: every line they log carries the context of the request that enqueued them.

This module does not import ``queuevars``: the worker knows ``tenant`` and
``username`` because ``ctxcarry.adapters.django`` imported
``orders.queuevars`` at ``ready()``, also under ``--skip-checks``.
"""

from __future__ import annotations

import structlog
from celery import shared_task

log = structlog.get_logger("orders.tasks")


@shared_task(name="orders.fulfil")
def fulfil(order_id: str) -> str:
    log.info("fulfilling order", order_id=order_id)
    notify.delay(order_id)  # the child task carries the same context
    return order_id


@shared_task(name="orders.notify")
def notify(order_id: str) -> str:
    log.info("notifying customer", order_id=order_id)
    return order_id
