"""The ImmediateBackend: the task runs inline, and the caller is left exactly intact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from opentelemetry import context as otel_context

from ctxcarry.adapters import django_tasks as adapter
from tests.django_tasks.compat import TaskResultStatus
from tests.django_tasks.helpers import bound, own_keys, trace_id_of
from tests.django_tasks.vars import djt_tenant


@pytest.fixture
def tasks(tasks_settings: None) -> Any:
    from tests.django_tasks import tasks

    return tasks


def inline(task: Any) -> Any:
    return task.using(backend="immediate")


def test_the_task_sees_the_callers_context_and_its_own_identity(tasks: Any, tracer: Any) -> None:
    with tracer.start_as_current_span("web") as span, bound("acme", djt_request="r-1"):
        task_result = inline(tasks.probe).enqueue("sync")
        trace_id = trace_id_of(span)
    report = task_result.return_value
    assert report["tenant"] == "acme"
    assert own_keys(report) == {"djt_request": "r-1"}
    assert report["log"]["task_id"] == str(task_result.id)
    assert report["log"]["task_name"] == task_result.task.module_path
    assert report["trace_id"] == trace_id


@pytest.mark.parametrize("task_name", ["probe", "aprobe", "failing_probe"])
def test_the_caller_is_left_exactly_intact(tasks: Any, task_name: str) -> None:
    task = inline(getattr(tasks, task_name))
    with bound("acme", djt_request="r-2"):
        before = (
            structlog.contextvars.get_contextvars(),
            djt_tenant.get(),
            otel_context.get_current(),
        )
        task_result = task.enqueue("intact")
        after = (
            structlog.contextvars.get_contextvars(),
            djt_tenant.get(),
            otel_context.get_current(),
        )
    expected = TaskResultStatus.FAILED if task_name == "failing_probe" else "SUCCESSFUL"
    assert task_result.status == expected
    assert after == before


@pytest.mark.parametrize("task_name", ["probe", "aprobe"])
def test_aenqueue_leaves_the_caller_exactly_intact(tasks: Any, task_name: str) -> None:
    task = inline(getattr(tasks, task_name))

    async def caller() -> tuple[Any, Any, Any]:
        with bound("acme", djt_request="r-3"):
            before = (structlog.contextvars.get_contextvars(), djt_tenant.get())
            task_result = await task.aenqueue("aenqueue")
            after = (structlog.contextvars.get_contextvars(), djt_tenant.get())
        return task_result, before, after

    task_result, before, after = asyncio.run(caller())
    assert after == before
    report = task_result.return_value
    assert report["tenant"] == "acme"
    assert report["log"]["task_id"] == str(task_result.id)


def test_a_nested_inline_task_inherits_and_leaves_its_parent_intact(tasks: Any) -> None:
    with bound("acme", djt_request="r-4"):
        task_result = inline(tasks.parent).enqueue("outer", backend="immediate")
        assert structlog.contextvars.get_contextvars() == {"djt_request": "r-4"}
        assert djt_tenant.get() == "acme"
    outer = task_result.return_value
    child = outer["child"]
    assert child["tenant"] == "acme"
    assert own_keys(child) == {"djt_request": "r-4", "djt_parent": "outer"}
    assert child["log"]["task_id"] == outer["child_id"]
    assert child["span_id"] == outer["span_id"]
    # after the child, the parent saw its own identity again, and not the child's leak
    assert outer["seen"]["log"]["task_id"] == str(task_result.id)
    assert "djt_leak" not in outer["seen"]["log"]


def test_uninstalled_the_body_leaks_into_the_caller(tasks: Any) -> None:
    """What the adapter prevents (this is the behaviour without it)."""
    adapter.uninstall()
    try:
        with bound("acme"):
            inline(tasks.probe).enqueue("uninstalled")
            assert structlog.contextvars.get_contextvars().get("djt_leak") == "uninstalled"
            assert djt_tenant.get() == "leaked-uninstalled"
    finally:
        adapter.install()
