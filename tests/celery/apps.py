"""The Celery app the tests publish to and the workers run: one factory for both.

Every task returns :func:`seen` (what the task saw, as JSON) through the Redis
result backend, so a worker in another process can report it.
``tests/celery/worker_app.py`` builds the same app for ``celery worker``
subprocesses from environment variables.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import structlog
from celery import Celery, Task
from opentelemetry import trace

from ctxcarry import QueueVar, priority
from ctxcarry.adapters.celery import install
from ctxcarry.kit import TASK_IDENTITY_KEYS

tenant: QueueVar[str | None] = QueueVar("celery_tests.tenant", default=None)
request_id: QueueVar[str | None] = QueueVar("celery_tests.request_id", default=None)

_tracer = trace.get_tracer("ctxcarry-celery-tests")


class FlakyError(Exception):
    """Raised by the autoretry task on its first attempt."""


def seen(task: Task | None = None) -> dict[str, Any]:
    """What the running code sees: QueueVars, structlog keys, the current span."""
    span = trace.get_current_span()
    context = span.get_span_context()
    parent = getattr(span, "parent", None)
    log = structlog.contextvars.get_contextvars()
    report: dict[str, Any] = {
        "tenant": tenant.get(),
        "request_id": request_id.get(),
        "priority_var": priority.get(),
        "log": {k: v for k, v in log.items() if k not in TASK_IDENTITY_KEYS},
        "identity": {k: v for k, v in log.items() if k in TASK_IDENTITY_KEYS},
        "trace_id": f"{context.trace_id:032x}" if context.is_valid else None,
        "span_id": f"{context.span_id:016x}" if context.is_valid else None,
        "span_name": getattr(span, "name", None),
        "span_parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
    }
    if task is not None:
        delivery_info = task.request.delivery_info or {}
        report["retries"] = task.request.retries
        report["message_priority"] = delivery_info.get("priority")
        report["caller_header"] = task.request.get("x-caller")
        report["carrier"] = task.request.get("ctxcarry")  # as the task received it
    return report


def build_app(name: str, broker_url: str, queue: str) -> Celery:
    """A Celery app on Redis with every test task, ctxcarry installed."""
    app = Celery(name, broker=broker_url, backend=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"queue_order_strategy": "priority"},
        result_expires=600,
        worker_hijack_root_logger=False,
        worker_prefetch_multiplier=1,
        task_acks_late=False,
    )
    _register_tasks(app)
    install(app)
    return app


def _register_tasks(app: Celery) -> None:
    @app.task(name="ctx.report", bind=True, shared=False)
    def report(self: Task) -> dict[str, Any]:
        return seen(self)

    @app.task(name="ctx.report_in_span", bind=True, shared=False)
    def report_in_span(self: Task) -> dict[str, Any]:
        outer = seen(self)
        with _tracer.start_as_current_span("task-body"):
            outer["body"] = seen()
        return outer

    @app.task(name="ctx.bind_and_report", bind=True, shared=False)
    def bind_and_report(self: Task, key: str) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(**{key: "bound-by-task"})
        tenant.set("set-by-task")
        return seen(self)

    @app.task(name="ctx.step", bind=True, shared=False)
    def step(self: Task, previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        return [*(previous or []), seen(self)]

    @app.task(name="ctx.collect", bind=True, shared=False)
    def collect(self: Task, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {"body": seen(self), "parts": parts}

    @app.task(name="ctx.retry_once", bind=True, shared=False, max_retries=2)
    def retry_once(self: Task) -> dict[str, Any]:
        if self.request.retries == 0:
            raise self.retry(countdown=0)
        return seen(self)

    @app.task(
        name="ctx.autoretry_once",
        bind=True,
        shared=False,
        autoretry_for=(FlakyError,),
        retry_kwargs={"max_retries": 2, "countdown": 0},
    )
    def autoretry_once(self: Task) -> dict[str, Any]:
        if self.request.retries == 0:
            raise FlakyError("first attempt fails")
        return seen(self)

    @app.task(name="ctx.enqueue_child", bind=True, shared=False)
    def enqueue_child(self: Task) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(parent_task="enqueue_child")
        child = app.tasks["ctx.report"].delay()
        return {"parent": seen(self), "child_id": child.id}

    @app.task(name="ctx.fail", shared=False)
    def fail() -> None:
        raise FlakyError("this task always fails")
