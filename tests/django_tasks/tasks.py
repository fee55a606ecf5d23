"""Task functions run by the real workers (and inline by the ImmediateBackend).

A *probe* reports what it sees (the QueueVar, the structlog contextvars, the
current span), then binds a key and sets the QueueVar and never undoes them:
if the adapter did not undo a task exactly, the next task on the same thread
would see them. Return values are JSON, stored by the backend.
"""

from __future__ import annotations

from typing import Any

import structlog
from opentelemetry import trace

from tests.django_tasks.compat import task
from tests.django_tasks.vars import djt_tenant

LEAK_KEY = "djt_leak"


def seen(label: str) -> dict[str, Any]:
    """What a task sees right now."""
    span = trace.get_current_span().get_span_context()
    return {
        "label": label,
        "tenant": djt_tenant.get(),
        "log": structlog.contextvars.get_contextvars(),
        "trace_id": format(span.trace_id, "032x") if span.is_valid else None,
        "span_id": format(span.span_id, "016x") if span.is_valid else None,
    }


def _pollute(label: str) -> None:
    structlog.contextvars.bind_contextvars(**{LEAK_KEY: label})
    djt_tenant.set(f"leaked-{label}")


@task()
def noop() -> None:
    """Nothing (the benchmark's task)."""


@task()
def probe(label: str) -> dict[str, Any]:
    """Report, then leave bindings behind."""
    report = seen(label)
    _pollute(label)
    return report


@task()
async def aprobe(label: str) -> dict[str, Any]:
    """The ``async def`` probe (``Task.call`` runs it with ``async_to_sync``)."""
    report = seen(label)
    _pollute(label)
    return report


@task()
def failing_probe(label: str) -> None:
    """Leave bindings behind, then fail."""
    _pollute(label)
    raise RuntimeError(f"failing_probe {label}")


@task()
def parent(label: str, backend: str = "default", queue_name: str = "default") -> dict[str, Any]:
    """Bind a key and start a span, then enqueue a probe from inside this task."""
    structlog.contextvars.bind_contextvars(djt_parent=label)
    with trace.get_tracer("djt-tests").start_as_current_span("parent-span") as span:
        child = probe.using(backend=backend, queue_name=queue_name).enqueue(f"{label}/child")
        span_id = format(span.get_span_context().span_id, "016x")
    inline = child.return_value if child.is_finished else None  # ImmediateBackend
    return {"child_id": str(child.id), "span_id": span_id, "seen": seen(label), "child": inline}
