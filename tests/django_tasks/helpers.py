"""Small helpers shared by the Django tasks tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import trace

from tests.django_tasks.compat import TaskResultStatus
from tests.django_tasks.vars import djt_tenant

IDENTITY = ("task_id", "task_name")


@contextmanager
def bound(tenant: str, **log: Any) -> Iterator[None]:
    """The caller's context: the QueueVar and structlog keys, for the block."""
    tokens = structlog.contextvars.bind_contextvars(**log)
    try:
        with djt_tenant(tenant):
            yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def trace_id_of(span: trace.Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def result_of(task_result: Any) -> Any:
    """The finished task's return value (refreshed from the backend); fails loudly otherwise."""
    task_result.refresh()
    assert task_result.status == TaskResultStatus.SUCCESSFUL, (
        task_result.status,
        [error.traceback for error in task_result.errors],
    )
    return task_result.return_value


def own_keys(report: dict[str, Any]) -> dict[str, Any]:
    """The structlog keys a task saw, minus its own identity."""
    return {key: value for key, value in report["log"].items() if key not in IDENTITY}
