"""Mixed deploys: workers with and without the adapter run each other's tasks."""

from __future__ import annotations

import pytest
import structlog
from common.test_tools.types import RunTasksFixture
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from task_processor.models import TaskResult

from ctxcarry.adapters.task_processor import install, uninstall
from tests.task_processor.task_functions import record_context, recorder, tenant

pytestmark = pytest.mark.integration


def _processor_span_parent(exporter: InMemorySpanExporter) -> int:
    [span] = [s for s in exporter.get_finished_spans() if s.name.endswith("ctxcarry_tp_record")]
    assert span.parent is not None
    return span.parent.span_id


def test_a_worker_without_the_adapter_runs_tasks_enqueued_with_it(
    run_tasks: RunTasksFixture, tracer: trace.Tracer, span_exporter: InMemorySpanExporter
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1")
    with tracer.start_as_current_span("enqueue") as enqueue, tenant("acme"):
        record_context.delay(args=("k",), kwargs={"bind_own": False})
    structlog.contextvars.clear_contextvars()

    uninstall()  # the old worker
    try:
        [run] = run_tasks()
    finally:
        install()

    assert run.result == TaskResult.SUCCESS.value, run.error_details
    assert _processor_span_parent(span_exporter) == enqueue.get_span_context().span_id
    seen = recorder.wait("k")["k"]
    assert (seen.log, seen.tenant) == ({}, None), "an old worker sees nothing (as before)"


def test_the_adapter_runs_tasks_enqueued_without_it(
    run_tasks: RunTasksFixture, tracer: trace.Tracer, span_exporter: InMemorySpanExporter
) -> None:
    uninstall()  # the old web process
    try:
        structlog.contextvars.bind_contextvars(request_id="r-2")
        with tracer.start_as_current_span("enqueue") as enqueue, tenant("acme"):
            task = record_context.delay(args=("k",))
        structlog.contextvars.clear_contextvars()
    finally:
        install()
    assert task is not None
    assert set(task.trace_context or {}) == {"traceparent"}

    [run] = run_tasks()

    assert run.result == TaskResult.SUCCESS.value, run.error_details
    assert _processor_span_parent(span_exporter) == enqueue.get_span_context().span_id
    seen = recorder.wait("k")["k"]
    assert seen.trace_id == enqueue.get_span_context().trace_id, "now the function has a span"
    assert (seen.log, seen.tenant) == ({}, None)


@pytest.mark.usefixtures("transactional_db", "separate_thread_method", "without_adapter")
def test_without_the_adapter_a_separate_thread_starts_empty() -> None:
    """What the adapter fixes: upstream's plain Thread sees none of the caller's context."""
    structlog.contextvars.bind_contextvars(request_id="r-3")

    record_context.delay(args=("k",))  # no transaction: the thread starts at once

    assert recorder.wait("k")["k"].log == {}
