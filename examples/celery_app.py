"""A Celery app whose tasks log with the context of the request that enqueued them.

Run it against Redis (``CELERY_BROKER_URL`` overrides the default below), from
the repository root, in two terminals:

    celery -A examples.celery_app worker --pool=threads --loglevel=INFO
    python examples/celery_app.py

The second command plays a web request: it binds a request id and a user in
structlog, sets the ``tenant`` QueueVar, opens a span, and enqueues a task
(which enqueues another one) and a chain. Every line the worker logs for them
carries ``request_id``, ``user``, ``tenant`` and the request's ``trace_id``.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import structlog
from celery import Celery, chain
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ctxcarry import QueueVar
from ctxcarry.adapters.celery import install

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

#: Travels with every task; read it anywhere with ``tenant.get()``.
tenant: QueueVar[str | None] = QueueVar("example.tenant", default=None)


def add_tenant_and_trace(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: put the tenant and the current trace id on every line."""
    event.setdefault("tenant", tenant.get())
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event.setdefault("trace_id", f"{span_context.trace_id:032x}")
    return event


structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        add_tenant_and_trace,
        structlog.processors.add_log_level,
        structlog.dev.ConsoleRenderer(colors=False),
    ]
)
trace.set_tracer_provider(TracerProvider())
log = structlog.get_logger()

app = Celery("ctxcarry-example", broker=BROKER_URL, backend=BROKER_URL)
app.conf.update(
    broker_connection_retry_on_startup=True,
    result_expires=300,
    worker_redirect_stdouts=False,  # structlog prints its lines itself
)
install(app)  # here, in the module both the web process and the worker import


@app.task(name="example.charge")
def charge(order_id: str) -> str:
    """Charge an order, then enqueue its receipt (the worker publishes that one)."""
    log.info("charging order", order_id=order_id)
    send_receipt.delay(order_id)
    return order_id


@app.task(name="example.send_receipt")
def send_receipt(order_id: str) -> str:
    log.info("sending receipt", order_id=order_id)
    return order_id


@app.task(name="example.step")
def step(previous: int = 0) -> int:
    log.info("chain step", step=previous + 1)
    return previous + 1


def simulate_web_request() -> None:
    """What a web view does: bind the request's context, enqueue, return."""
    tracer = trace.get_tracer("example")
    structlog.contextvars.bind_contextvars(request_id=uuid.uuid4().hex[:12], user="alice")
    with tracer.start_as_current_span("POST /orders"), tenant("acme"):
        log.info("enqueuing from the web process")
        charged = charge.delay("order-1")
        steps = chain(step.s(), step.s(), step.s()).apply_async()
    structlog.contextvars.clear_contextvars()
    print("charged:", charged.get(timeout=30), "- chain result:", steps.get(timeout=30))
    print("Now look at the worker's log: every line carries request_id, user, tenant, trace_id.")


if __name__ == "__main__":
    simulate_web_request()
