"""Run (``TASK_PROCESSOR``): the function sees the task's context; the runner stays clean.

Tasks are enqueued with ``.delay()`` and run by flagsmith-common's own
``run_tasks`` (its pytest plugin's fixture) in the test thread, which plays the
long-lived runner thread.
"""

from __future__ import annotations

import pytest
import structlog
from common.test_tools.types import RunTasksFixture
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from task_processor.models import Task, TaskResult

from ctxcarry import Carrier
from ctxcarry.adapters.task_processor import install, uninstall
from tests.task_processor.conftest import JSONLines
from tests.task_processor.task_functions import (
    delay_onward,
    fail,
    record_context,
    recorder,
    release_slow_task,
    slow,
    tenant,
)

pytestmark = pytest.mark.integration


def _span(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    matches = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(matches) == 1, [s.name for s in exporter.get_finished_spans()]
    return matches[0]


def test_the_function_sees_the_enqueuers_bindings_and_queuevars(
    run_tasks: RunTasksFixture,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1", user_id=7)
    with tenant("acme"):
        record_context.delay(args=("k",))
    structlog.contextvars.clear_contextvars()

    [run] = run_tasks()

    assert run.result == TaskResult.SUCCESS.value
    seen = recorder.wait("k")["k"]
    assert seen.log == {"request_id": "r-1", "user_id": 7}
    assert seen.tenant == "acme"
    assert seen.thread != "MainThread", "the function runs in the processor's pool thread"


def test_spans_link_enqueuer_to_processor_span_to_function_spans(
    run_tasks: RunTasksFixture, tracer: trace.Tracer, span_exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("enqueue") as enqueue:
        record_context.delay(args=("k",))

    run_tasks()

    processor_span = _span(span_exporter, "task_functions.ctxcarry_tp_record")
    inner = _span(span_exporter, "inside k")
    assert processor_span.parent is not None
    assert processor_span.parent.span_id == enqueue.get_span_context().span_id
    assert inner.parent is not None
    assert inner.parent.span_id == processor_span.get_span_context().span_id
    seen = recorder.wait("k")["k"]
    assert seen.trace_id == enqueue.get_span_context().trace_id


def test_the_runners_own_context_survives_and_the_tasks_does_not_stay(
    run_tasks: RunTasksFixture,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1")
    with tenant("acme"):
        record_context.delay(args=("k",), kwargs={"bind_own": True})
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(worker="w-1")
    tenant.set("runner")

    run_tasks()

    seen = recorder.wait("k")["k"]
    assert seen.log == {"worker": "w-1", "request_id": "r-1"}
    assert seen.tenant == "acme"
    assert structlog.contextvars.get_contextvars() == {"worker": "w-1"}
    assert tenant.get() == "runner"


def test_the_next_task_on_the_same_runner_starts_clean(run_tasks: RunTasksFixture) -> None:
    structlog.contextvars.bind_contextvars(request_id="first")
    with tenant("acme"):
        record_context.delay(args=("first",), kwargs={"bind_own": True})
    structlog.contextvars.clear_contextvars()
    record_context.delay(args=("second",))

    run_tasks(num_tasks=2)

    seen = recorder.wait("first", "second")
    assert seen["first"].log == {"request_id": "first"}
    assert seen["second"].log == {}
    assert seen["second"].tenant is None


def test_the_processors_failure_log_line_carries_the_tasks_context(
    run_tasks: RunTasksFixture, processor_log: JSONLines
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-9")
    fail.delay(args=("k",))
    structlog.contextvars.clear_contextvars()

    [run] = run_tasks()

    assert run.result == TaskResult.FAILURE.value
    [line] = [x for x in processor_log.lines() if x["event"].startswith("Failed to execute task")]
    assert line["request_id"] == "r-9"
    assert structlog.contextvars.get_contextvars() == {}


def test_a_delay_inside_a_task_carries_the_context_onward(
    run_tasks: RunTasksFixture, tracer: trace.Tracer, span_exporter: InMemorySpanExporter
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-5")
    with tracer.start_as_current_span("enqueue") as enqueue, tenant("acme"):
        delay_onward.delay(args=("outer", "onward"))
    structlog.contextvars.clear_contextvars()

    run_tasks()
    run_tasks()

    seen = recorder.wait("outer", "onward")
    assert seen["onward"].log == {"request_id": "r-5"}
    assert seen["onward"].tenant == "acme"
    assert seen["onward"].trace_id == enqueue.get_span_context().trace_id
    onward_processor_span = _span(span_exporter, "task_functions.ctxcarry_tp_record")
    assert onward_processor_span.parent is not None
    assert onward_processor_span.parent.span_id == seen["outer"].inner_span_id


def test_a_timed_out_task_keeps_its_context_and_the_next_task_starts_clean(
    run_tasks: RunTasksFixture,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="slow")
    with tenant("slow-tenant"):
        slow.delay(args=("slow",))
    structlog.contextvars.clear_contextvars()

    structlog.contextvars.bind_contextvars(request_id="next")
    record_context.delay(args=("next",))
    structlog.contextvars.clear_contextvars()

    timed_out, after = run_tasks(num_tasks=2)  # in order: the slow task, then the next one

    assert timed_out.result == TaskResult.FAILURE.value
    assert "TimeoutError" in (timed_out.error_details or "")
    assert after.result == TaskResult.SUCCESS.value
    assert recorder.get("slow:end") is None, "the slow task is still running"
    release_slow_task.set()

    seen = recorder.wait("slow:start", "slow:end", "next")
    assert seen["next"].log == {"request_id": "next"}
    assert seen["next"].tenant is None
    assert seen["slow:end"].log == {"request_id": "slow"}
    assert seen["slow:end"].tenant == "slow-tenant"
    assert structlog.contextvars.get_contextvars() == {}


def test_task_run_called_directly_restores_and_undoes_the_context(
    run_tasks: RunTasksFixture, tracer: trace.Tracer
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-7")
    with tracer.start_as_current_span("enqueue") as enqueue, tenant("acme"):
        task = record_context.delay(args=("k",), kwargs={"bind_own": True})
    structlog.contextvars.clear_contextvars()
    assert task is not None

    Task.objects.get(pk=task.pk).run()

    seen = recorder.wait("k")["k"]
    assert seen.log == {"request_id": "r-7"}
    assert seen.tenant == "acme"
    assert seen.trace_id == enqueue.get_span_context().trace_id
    assert structlog.contextvars.get_contextvars() == {}
    assert tenant.get() is None


def test_task_run_called_directly_keeps_an_active_span_as_parent(
    run_tasks: RunTasksFixture, tracer: trace.Tracer
) -> None:
    with tracer.start_as_current_span("enqueue"):
        task = record_context.delay(args=("k",))
    assert task is not None

    with tracer.start_as_current_span("caller") as caller:
        Task.objects.get(pk=task.pk).run()

    assert recorder.wait("k")["k"].trace_id == caller.get_span_context().trace_id


def test_a_malformed_trace_context_never_stops_the_task(run_tasks: RunTasksFixture) -> None:
    """Upstream alone raises on a numeric traceparent and leaves the task locked."""
    junk = {"traceparent": 42, "structlog_context": "x", "ctxcarry": {"v": 99}}
    task = record_context.delay(args=("k",))
    assert task is not None
    Task.objects.filter(pk=task.pk).update(trace_context=junk)

    [run] = run_tasks()

    assert run.result == TaskResult.SUCCESS.value
    assert recorder.wait("k")["k"].log == {}
    assert Task.objects.get(pk=task.pk).trace_context == junk


JUNK_TRACE_CONTEXTS = [[1, 2], "junk", 7, {"traceparent": 42}, {"baggage": 5}]


@pytest.mark.parametrize("junk", JUNK_TRACE_CONTEXTS, ids=repr)
@pytest.mark.parametrize(
    "carrier",
    [Carrier(carry_trace=False), Carrier(strict=True), Carrier()],
    ids=["carry_trace=False", "strict", "default"],
)
def test_a_junk_row_is_run_and_recorded_whatever_the_carrier(
    run_tasks: RunTasksFixture, carrier: Carrier, junk: object
) -> None:
    """Upstream hands trace_context to propagate.extract before its own try block.

    Whatever the Carrier's settings, the row must be run (or fail visibly) and
    released: never left locked with no TaskRun.
    """
    install(carrier=carrier)
    try:
        task = record_context.delay(args=("k",))
        assert task is not None
        Task.objects.filter(pk=task.pk).update(trace_context=junk)

        runs = run_tasks()

        assert len(runs) == 1, "no TaskRun recorded: the row stayed locked"
        stored = Task.objects.get(pk=task.pk)
        assert not stored.is_locked
        assert stored.trace_context == junk, "the row itself is never rewritten"
    finally:
        uninstall()
        install()


def test_the_function_logs_its_task_identity_unless_turned_off(run_tasks: RunTasksFixture) -> None:
    task = record_context.delay(args=("k",))
    assert task is not None
    run_tasks()
    assert recorder.wait("k")["k"].identity == {
        "task_id": str(task.uuid),
        "task_name": task.task_identifier,
    }
    recorder.clear()
    install(task_identity=False)
    try:
        record_context.delay(args=("off",))
        run_tasks()
        assert recorder.wait("off")["off"].identity == {}
    finally:
        install(task_identity=True)
