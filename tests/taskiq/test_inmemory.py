"""``InMemoryBroker``: tasks as asyncio tasks, or inline in the caller's task.

With ``await_inplace=True`` Taskiq runs ``pre_execute``, the task and
``post_execute`` in the caller's own asyncio task: the caller must get back
exactly the context it had, whatever the task did or however it ended.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from taskiq import InMemoryBroker
from taskiq.middlewares import SimpleRetryMiddleware
from taskiq.middlewares.opentelemetry_middleware import OpenTelemetryMiddleware

from ctxcarry.adapters.taskiq import install
from tests.taskiq.apps import report, tenant


def _whole_context() -> dict[Any, Any]:
    """Every ContextVar of the current context, with structlog's "unbound" left out.

    A key the task bound for the first time cannot be removed from the Context
    afterwards (only a token of its own could do that): it is put back to
    structlog's unbound marker, ``Ellipsis``, which structlog treats as absent.
    """
    return {
        var: value
        for var, value in contextvars.copy_context().items()
        if not (value is Ellipsis and var.name.startswith("structlog_"))
    }


def _inline_broker(otel: str = "none") -> tuple[InMemoryBroker, list[dict[str, Any]]]:
    broker = InMemoryBroker(await_inplace=True)
    broker.add_middlewares(SimpleRetryMiddleware(default_retry_count=2))
    if otel == "last":
        broker.add_middlewares(OpenTelemetryMiddleware())
    install(broker)
    if otel == "first":
        middleware = OpenTelemetryMiddleware()
        middleware.set_broker(broker)
        broker.middlewares.insert(0, middleware)
    seen: list[dict[str, Any]] = []

    @broker.task(task_name="inline.ok")
    async def ok(tag: str) -> None:
        seen.append(report(tag))
        structlog.contextvars.bind_contextvars(task_bound=tag, request_id="overwritten")
        tenant.set("set-by-task")

    @broker.task(task_name="inline.fails", retry_on_error=True)
    async def fails(tag: str) -> None:
        seen.append(report(tag))
        structlog.contextvars.bind_contextvars(task_bound=tag)
        raise RuntimeError("fails on purpose")

    @broker.task(task_name="inline.sync")
    def sync(tag: str) -> None:
        seen.append(report(tag))
        structlog.contextvars.bind_contextvars(task_bound=tag)

    @broker.task(task_name="inline.nested")
    async def nested(tag: str) -> None:
        seen.append(report(tag))
        structlog.contextvars.bind_contextvars(parent_bound=tag)
        with tenant("inner"):
            await ok.kiq(f"{tag}-child")
        seen.append(report(f"{tag}-after-child"))

    return broker, seen


CASES = {
    "ok": ("inline.ok", 1),
    "fails": ("inline.fails", 1),
    "fails_with_retries": ("inline.fails", 2),
    "sync": ("inline.sync", 1),
    "nested": ("inline.nested", 3),
}


@pytest.mark.parametrize("otel", ["none", "first", "last"])
@pytest.mark.parametrize("case", CASES)
def test_await_inplace_leaves_the_callers_task_exactly_intact(case: str, otel: str) -> None:
    broker, seen = _inline_broker(otel)
    name, runs = CASES[case]

    async def call() -> None:
        await broker.startup()
        structlog.contextvars.bind_contextvars(request_id="r-inline")
        with tenant("caller"), trace.get_tracer("t").start_as_current_span("caller"):
            before = _whole_context()
            kicker = broker.find_task(name).kicker()
            if case == "fails":
                kicker = kicker.with_labels(retry_on_error=False)
            await kicker.kiq(case)
            after = _whole_context()
        assert after == before
        assert tenant.get() is None
        await broker.shutdown()

    asyncio.run(call())
    assert len(seen) == runs
    assert seen[0]["tenant"] == "caller"
    assert seen[0]["log"]["request_id"] == "r-inline"
    assert seen[0]["log"]["task_name"] == name


def test_await_inplace_nested_task_and_the_parent_after_it() -> None:
    broker, seen = _inline_broker()

    async def call() -> None:
        with tenant("caller"):
            await broker.find_task("inline.nested").kiq("parent")

    asyncio.run(call())
    parent, child, parent_after = seen
    assert child["tenant"] == "inner"
    assert child["log"]["parent_bound"] == "parent"
    assert child["log"]["task_name"] == "inline.ok"
    assert parent_after["tenant"] == "caller"  # the child's run was undone exactly
    assert parent_after["log"]["task_name"] == "inline.nested"
    assert parent_after["log"]["task_id"] == parent["log"]["task_id"]
    assert "task_bound" not in parent_after["log"]


def test_default_inmemory_broker_runs_tasks_in_their_own_asyncio_task() -> None:
    broker = InMemoryBroker()
    install(broker)
    seen: list[dict[str, Any]] = []

    @broker.task(task_name="memory.report")
    async def probe(tag: str) -> None:
        await asyncio.sleep(0)
        seen.append(report(tag))
        tenant.set("set-by-task")

    async def call() -> None:
        for index in range(20):
            with tenant(f"t{index}"):
                await probe.kiq(str(index))
        await broker.wait_all()
        assert tenant.get() is None

    asyncio.run(call())
    assert sorted((s["tag"], s["tenant"]) for s in seen) == sorted(
        (str(i), f"t{i}") for i in range(20)
    )


def test_task_identity_can_be_switched_off() -> None:
    broker = InMemoryBroker(await_inplace=True)
    install(broker, task_identity=False)
    seen: list[dict[str, Any]] = []

    @broker.task(task_name="memory.no_identity")
    async def probe() -> None:
        seen.append(report("x"))

    async def call() -> None:
        structlog.contextvars.bind_contextvars(request_id="r")
        await probe.kiq()

    asyncio.run(call())
    assert seen[0]["log"] == {"request_id": "r"}
