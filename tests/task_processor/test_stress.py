"""The real ``start_task_processor``: 500 tasks, 3 runner threads, no context crosses over."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import trace
from task_processor.models import Task
from task_processor.utils import start_task_processor

from tests.task_processor.task_functions import record_context, recorder, tenant

pytestmark = pytest.mark.integration

TASKS = 500


@pytest.fixture
def task_processor(transactional_db: None, task_processor_method: None) -> Iterator[None]:
    """flagsmith-common's processor: a coordinator and 3 long-lived runner threads."""
    options = {"numthreads": 3, "sleepintervalms": 10, "graceperiodms": 20000, "queuepopsize": 10}
    with start_task_processor(options) as coordinator:
        yield
    coordinator.join(timeout=30)
    assert not coordinator.is_alive()
    gc.collect()  # close the finished runner threads' database connections


def _enqueue(i: int, tracer: trace.Tracer) -> int:
    """Enqueue task ``i`` with its own context; return the trace id it must run in (or 0)."""
    with contextlib.ExitStack() as stack:
        trace_id = 0
        if i % 5:  # every fifth task carries nothing at all
            structlog.contextvars.bind_contextvars(request_id=f"r{i}")
            stack.enter_context(tenant(f"t{i}"))
        if i % 2:
            span = stack.enter_context(tracer.start_as_current_span(f"enqueue {i}"))
            trace_id = span.get_span_context().trace_id
        record_context.delay(args=(f"task-{i}",), kwargs={"bind_own": True})
        structlog.contextvars.clear_contextvars()
        return trace_id


@pytest.mark.usefixtures("task_processor", "span_exporter")
def test_500_tasks_each_see_exactly_their_own_context(tracer: trace.Tracer) -> None:
    trace_ids = {i: _enqueue(i, tracer) for i in range(TASKS)}

    seen = recorder.wait(*(f"task-{i}" for i in range(TASKS)), timeout=120)

    for i in range(TASKS):
        got = seen[f"task-{i}"]
        carried = bool(i % 5)
        assert got.log == ({"request_id": f"r{i}"} if carried else {}), i
        assert got.tenant == (f"t{i}" if carried else None), i
        if trace_ids[i]:
            assert got.trace_id == trace_ids[i], i
    distinct_traces = {got.trace_id for got in seen.values()}
    assert len(distinct_traces) == TASKS, "each task ran in a trace of its own"
    assert len({got.thread for got in seen.values()}) > 1
    _wait_until_all_completed()


def _wait_until_all_completed(timeout: float = 30.0) -> None:
    """The processor marks a batch completed after its last task returns."""
    deadline = time.monotonic() + timeout
    while Task.objects.filter(completed=True).count() < TASKS:
        assert time.monotonic() < deadline, "tasks ran but were never marked completed"
        time.sleep(0.05)


@pytest.mark.usefixtures("task_processor")
def test_recurring_tasks_run_clean_next_to_carried_tasks(tracer: trace.Tracer) -> None:
    for i in range(20):
        _enqueue(i + 1, tracer)

    seen = recorder.wait("recurring", *(f"task-{i + 1}" for i in range(20)), timeout=60)

    assert (seen["recurring"].log, seen["recurring"].tenant) == ({}, None)
