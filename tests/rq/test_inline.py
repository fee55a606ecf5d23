"""``Queue(is_async=False)``: the job runs in the caller, and the caller is left exactly intact."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator

import pytest
import redis
import structlog
from opentelemetry import trace
from rq import Callback, Queue

from ctxcarry.adapters.rq import install
from tests.rq import jobs
from tests.rq.conftest import expected_log, unique_name

pytestmark = pytest.mark.integration


@pytest.fixture
def inline(connection: redis.Redis) -> Iterator[Queue]:
    queue = Queue(unique_name("inline-"), connection=connection, is_async=False)
    yield queue
    queue.delete()


def nested_inline(label: str) -> dict[str, object]:
    """Enqueue a probe on the same synchronous queue from inside an inline job."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    queue = Queue(job.origin, connection=job.connection, is_async=False)
    structlog.contextvars.bind_contextvars(step="outer")
    child = queue.enqueue(jobs.probe, f"child-{label}")
    return {"child": child.return_value(), "child_id": child.id}


@pytest.mark.usefixtures("installed")
def test_the_job_sees_the_caller_and_the_caller_is_intact(
    inline: Queue, tracer: trace.Tracer
) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-inline")
    with tracer.start_as_current_span("caller") as span, jobs.rq_tenant("acme"):
        job = inline.enqueue(jobs.probe, "inline")
        assert structlog.contextvars.get_contextvars() == {"request_id": "req-inline"}
        assert jobs.rq_tenant.get() == "acme"
        assert trace.get_current_span() is span
    report = job.return_value()
    assert report["tenant"] == "acme"
    assert report["log"] == expected_log(job.id, request_id="req-inline")
    assert report["span_id"] == format(span.get_span_context().span_id, "016x")


@pytest.mark.usefixtures("installed")
def test_a_failing_job_and_its_callback_leave_the_caller_intact(inline: Queue) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-fail")
    with jobs.rq_tenant("acme"):
        job = inline.enqueue(jobs.fail, "inline-failure", on_failure=Callback(jobs.record_failure))
        assert jobs.rq_tenant.get() == "acme"
    assert job.get_status() == "failed"
    assert structlog.contextvars.get_contextvars() == {"request_id": "req-fail"}
    callbacks = inline.connection.lrange(f"{inline.name}:callbacks", 0, -1)
    assert len(callbacks) == 1
    assert job.id.encode() in callbacks[0]


@pytest.mark.usefixtures("installed")
def test_an_inline_job_enqueued_by_an_inline_job_names_its_parent(inline: Queue) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-nested")
    outer = inline.enqueue(nested_inline, "n")
    report = outer.return_value()
    assert report["child"]["log"] == {
        **expected_log(report["child_id"], request_id="req-nested", step="outer"),
        "parent_task_id": outer.id,
    }
    assert structlog.contextvars.get_contextvars() == {"request_id": "req-nested"}


def test_task_identity_can_be_turned_off(inline: Queue) -> None:
    install(task_identity=False)
    install()  # a later plain install keeps the choice
    job = inline.enqueue(jobs.probe, "anonymous")
    assert job.return_value()["log"] == {}
    assert structlog.contextvars.get_contextvars() == {}


def test_without_the_adapter_the_job_leaks_into_the_caller(inline: Queue) -> None:
    """Why the guard exists: rq runs the job in the caller's own context."""

    def caller() -> tuple[dict[str, object], object]:
        inline.enqueue(jobs.probe, "unguarded")
        return structlog.contextvars.get_contextvars(), jobs.rq_tenant.get()

    log, tenant = contextvars.copy_context().run(caller)  # the leak stays in the copy
    assert log == {"leak_unguarded": True}
    assert tenant == "leaked-by-unguarded"
