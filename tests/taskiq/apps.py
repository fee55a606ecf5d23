"""The brokers and tasks of the Taskiq tests, shared by the test process and the worker.

``make_broker`` builds the same broker on both sides: the test process sends
with it, ``tests/taskiq/worker_app.py`` builds it from environment variables
for ``taskiq worker``. Every task reports what it saw into a Redis list (the
"sink" named in its arguments), so a report arrives however the task was sent
(``kiq``, a retry, the scheduler).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from typing import Any

import redis
import redis.asyncio
import structlog
from opentelemetry import trace
from taskiq import AsyncBroker, TaskiqMiddleware
from taskiq.middlewares import SimpleRetryMiddleware
from taskiq.middlewares.opentelemetry_middleware import OpenTelemetryMiddleware

from ctxcarry import QueueVar
from ctxcarry.adapters.taskiq import install

tenant: QueueVar[str | None] = QueueVar("taskiq_tests.tenant", default=None)

#: Per sink: ``ctx.concurrent`` tasks running now, the most seen, and "enough run at once".
_together: dict[str, dict[str, Any]] = {}


def report(tag: object) -> dict[str, Any]:
    """What the running task sees: QueueVar, structlog keys, the current span."""
    span = trace.get_current_span()
    context = span.get_span_context()
    return {
        "tag": tag,
        "tenant": tenant.get(),
        "log": structlog.contextvars.get_contextvars(),
        "trace_id": format(context.trace_id, "032x") if context.is_valid else None,
        "span_name": getattr(span, "name", None),
        "pid": os.getpid(),
    }


class Sinks:
    """One async Redis client per event loop, for the reports."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[int, redis.asyncio.Redis] = {}

    def client(self) -> redis.asyncio.Redis:
        loop = id(asyncio.get_running_loop())
        found = self._clients.get(loop)
        if found is None:  # 500 concurrent tasks wait for a connection instead of failing
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url, max_connections=50, timeout=60
            )
            found = self._clients[loop] = redis.asyncio.Redis(connection_pool=pool)
        return found

    async def push(self, sink: str, value: dict[str, Any]) -> None:
        await self.client().rpush(sink, json.dumps(value))

    def push_sync(self, sink: str, value: dict[str, Any]) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.rpush(sink, json.dumps(value))
        finally:
            client.close()


def make_broker(
    broker: AsyncBroker,
    sink_url: str,
    *,
    installed: bool = True,
    otel: str = "none",
    extra: tuple[TaskiqMiddleware, ...] = (),
) -> AsyncBroker:
    """Add the test middlewares and tasks to ``broker``.

    ``otel``: ``"none"``, or where Taskiq's ``OpenTelemetryMiddleware`` goes
    relative to ours: ``"first"`` (before it) or ``"last"`` (after it).
    """
    sinks = Sinks(sink_url)
    middlewares: list[TaskiqMiddleware] = [SimpleRetryMiddleware(default_retry_count=3), *extra]
    if otel == "last":
        middlewares.append(OpenTelemetryMiddleware())
    broker.add_middlewares(*middlewares)
    if installed:
        install(broker)  # first in line
    if otel == "first":
        otel_middleware = OpenTelemetryMiddleware()
        otel_middleware.set_broker(broker)
        broker.middlewares.insert(0, otel_middleware)

    @broker.task(task_name="ctx.report")
    async def report_task(sink: str, tag: str) -> dict[str, Any]:
        seen = report(tag)
        structlog.contextvars.bind_contextvars(task_bound=tag)  # undone by the adapter
        tenant.set("set-by-task")
        await sinks.push(sink, seen)
        return seen

    @broker.task(task_name="ctx.sync_report")
    def sync_report_task(sink: str, tag: str) -> dict[str, Any]:
        seen = report(tag)
        structlog.contextvars.bind_contextvars(task_bound=tag)
        sinks.push_sync(sink, seen)
        return seen

    @broker.task(task_name="ctx.flaky", retry_on_error=True, max_retries=3)
    async def flaky_task(sink: str, tag: str, fail_times: int) -> dict[str, Any]:
        seen = report(tag)
        structlog.contextvars.bind_contextvars(attempt_bound="leak?")  # must not reach the retry
        await sinks.push(sink, seen)
        # Its own count (not the sink's length: the test takes reports off the sink while
        # other tasks push theirs, so that length says nothing about this task's attempts).
        attempts = await sinks.client().incr(f"{sink}:attempts:{tag}")
        if attempts <= fail_times:
            raise RuntimeError(f"attempt {attempts} fails on purpose")
        return seen

    @broker.task(task_name="ctx.nested")
    async def nested_task(sink: str, tag: str) -> dict[str, Any]:
        seen = report(tag)
        structlog.contextvars.bind_contextvars(parent_bound=tag)
        await report_task.kiq(sink, f"{tag}-child")
        await sinks.push(sink, seen)
        return seen

    @broker.task(task_name="ctx.concurrent")
    async def concurrent_task(sink: str, index: int, together: int) -> dict[str, Any]:
        """Waits (at most 20 s) until ``together`` tasks of its sink run at once."""
        state = _together.setdefault(sink, {"now": 0, "max": 0, "event": asyncio.Event()})
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        if state["now"] >= together:
            state["event"].set()
        try:
            first = (tenant.get(), structlog.contextvars.get_contextvars().get("req"))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(state["event"].wait(), 20)
            await asyncio.sleep(random.uniform(0.0, 0.2))
            structlog.contextvars.bind_contextvars(req=f"rebound-{index}", own=index)
            tenant.set(f"rebound-{index}")
            await asyncio.sleep(random.uniform(0.0, 0.2))
            second = (tenant.get(), structlog.contextvars.get_contextvars())
        finally:
            state["now"] -= 1
        seen = {
            "index": index,
            "first": list(first),
            "second_tenant": second[0],
            "second_log": second[1],
            "max_running": state["max"],
        }
        await sinks.push(sink, seen)
        return seen

    @broker.task(task_name="ctx.log_probe")
    async def log_probe_task(sink: str) -> None:
        structlog.get_logger("ctx.tests").info("probe-line")
        await sinks.push(sink, report("log"))

    return broker
