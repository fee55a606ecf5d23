"""Canvas, retries, nested enqueues and beat: what the worker publishes inherits the context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import structlog
from celery import Celery, chain, chord, group
from celery.beat import ScheduleEntry, Scheduler
from opentelemetry import trace

from tests.celery.apps import request_id, tenant
from tests.celery.conftest import RESULT_TIMEOUT

pytestmark = pytest.mark.integration


@pytest.fixture
def web_context(tracer: trace.Tracer) -> Iterator[str]:
    """A web request's context: QueueVars, a structlog key, a span; yields the trace id."""
    structlog.contextvars.bind_contextvars(user_id=42)
    with tracer.start_as_current_span("web-request") as span, tenant("acme"), request_id("req-1"):
        yield f"{span.get_span_context().trace_id:032x}"


def _carried(report: dict[str, Any], trace_id: str) -> bool:
    return (
        report["tenant"] == "acme"
        and report["request_id"] == "req-1"
        and report["log"].get("user_id") == 42
        and report["trace_id"] == trace_id
    )


def test_chain_steps_published_by_the_worker_carry_the_context(
    worker_app: Celery, web_context: str
) -> None:
    step = worker_app.tasks["ctx.step"]
    reports = chain(step.s(), step.s(), step.s()).apply_async().get(timeout=RESULT_TIMEOUT)
    assert len(reports) == 3
    # Steps 2 and 3 were published by the worker, from inside the previous step's context.
    assert all(_carried(report, web_context) for report in reports)


def test_group_members_carry_the_context(worker_app: Celery, web_context: str) -> None:
    reports = group(worker_app.tasks["ctx.report"].s() for _ in range(4)).apply_async()
    results = reports.get(timeout=RESULT_TIMEOUT)
    assert len(results) == 4
    assert all(_carried(report, web_context) for report in results)


def test_chord_header_and_body_carry_the_context(worker_app: Celery, web_context: str) -> None:
    header = [worker_app.tasks["ctx.report"].s() for _ in range(3)]
    outcome = chord(header)(worker_app.tasks["ctx.collect"].s()).get(timeout=RESULT_TIMEOUT)
    assert _carried(outcome["body"], web_context)  # published by the worker after the header
    assert all(_carried(part, web_context) for part in outcome["parts"])


@pytest.mark.parametrize("task_name", ["ctx.retry_once", "ctx.autoretry_once"])
def test_retries_carry_the_context(worker_app: Celery, web_context: str, task_name: str) -> None:
    report = worker_app.tasks[task_name].delay().get(timeout=RESULT_TIMEOUT)
    assert report["retries"] == 1  # this is the republished message
    assert _carried(report, web_context)


def test_nested_enqueue_inherits_the_task_context(worker_app: Celery, web_context: str) -> None:
    outcome = worker_app.tasks["ctx.enqueue_child"].delay().get(timeout=RESULT_TIMEOUT)
    child = worker_app.AsyncResult(outcome["child_id"]).get(timeout=RESULT_TIMEOUT)
    assert _carried(outcome["parent"], web_context)
    assert _carried(child, web_context)
    assert child["log"]["parent_task"] == "enqueue_child"  # bound by the parent task's body


def test_beat_publishes_the_context_of_the_beat_process(worker_app: Celery) -> None:
    # A beat process has no request, but may bind process-wide keys (e.g. in beat_init).
    scheduler = Scheduler(worker_app, lazy=True)
    entry = ScheduleEntry(
        name="every-minute", task="ctx.report", schedule=timedelta(minutes=1), app=worker_app
    )
    structlog.contextvars.bind_contextvars(service="beat")
    with tenant("scheduled"):
        result = scheduler.apply_async(entry)
    report = worker_app.AsyncResult(result.id).get(timeout=RESULT_TIMEOUT)
    assert report["tenant"] == "scheduled"
    assert report["log"] == {"service": "beat"}


def test_each_task_logs_its_own_identity_and_its_parent(
    worker_app: Celery, web_context: str
) -> None:
    parent = worker_app.tasks["ctx.enqueue_child"].delay()
    outcome = parent.get(timeout=RESULT_TIMEOUT)
    child = worker_app.AsyncResult(outcome["child_id"]).get(timeout=RESULT_TIMEOUT)
    assert outcome["parent"]["identity"] == {"task_id": parent.id, "task_name": "ctx.enqueue_child"}
    assert child["identity"] == {
        "task_id": outcome["child_id"],  # its own id: the parent's was never carried onward
        "task_name": "ctx.report",
        "parent_task_id": parent.id,
    }
