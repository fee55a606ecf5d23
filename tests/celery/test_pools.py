"""Real ``celery worker`` processes on every pool: carried in, undone afterwards.

Each pool runs with one slot, so consecutive tasks share a process (prefork),
a thread (threads, solo) or at least a worker (gevent): the second task must
not see anything of the first, including what the first task's body bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import structlog
from celery import Celery, chain
from opentelemetry import trace

from tests.celery.apps import request_id, tenant
from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker

pytestmark = pytest.mark.integration

StartWorker = Callable[..., tuple[Celery, SubprocessWorker]]


@pytest.mark.parametrize("pool", ["prefork", "threads", "solo", "gevent"])
def test_context_is_carried_through_a_chain_and_never_leaks_to_the_next_task(
    subprocess_worker: StartWorker, tracer: trace.Tracer, pool: str
) -> None:
    app, worker = subprocess_worker(pool, concurrency=1)
    step = app.tasks["ctx.step"]
    structlog.contextvars.bind_contextvars(user_id=42)
    with tracer.start_as_current_span("web-request") as web, tenant("acme"), request_id("req-1"):
        steps = chain(step.s(), step.s(), step.s()).apply_async().get(timeout=RESULT_TIMEOUT)
        dirty = app.tasks["ctx.bind_and_report"].delay("leaky").get(timeout=RESULT_TIMEOUT)
    structlog.contextvars.clear_contextvars()
    clean = app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)

    trace_id = f"{web.get_span_context().trace_id:032x}"
    for report in steps:  # steps 2 and 3 were published by the worker
        assert (report["tenant"], report["request_id"]) == ("acme", "req-1")
        assert report["log"] == {"user_id": 42}
        assert report["trace_id"] == trace_id
    assert dirty["log"] == {"user_id": 42, "leaky": "bound-by-task"}
    assert dirty["tenant"] == "set-by-task"
    assert clean["pid"] == dirty["pid"]
    if pool in ("threads", "solo"):
        assert clean["thread"] == dirty["thread"]
    assert clean["tenant"] is None
    assert clean["request_id"] is None
    assert clean["log"] == {}
    assert clean["trace_id"] is None
    assert worker.alive()


def test_a_thousand_concurrent_tasks_each_see_exactly_their_own_context(
    subprocess_worker: StartWorker,
) -> None:
    app, _ = subprocess_worker("threads", concurrency=8)
    report = app.tasks["ctx.report"]
    results = []
    for index in range(1000):
        structlog.contextvars.bind_contextvars(index=index)
        with tenant(f"tenant-{index}"), request_id(f"req-{index}"):
            results.append(report.delay())
    structlog.contextvars.clear_contextvars()
    reports: list[dict[str, Any]] = app.ResultSet(results).get(timeout=120)

    assert len(reports) == 1000
    for index, seen in enumerate(reports):
        assert seen["tenant"] == f"tenant-{index}"
        assert seen["request_id"] == f"req-{index}"
        assert seen["log"] == {"index": index}
    assert len({seen["thread"] for seen in reports}) > 1  # they really ran side by side
