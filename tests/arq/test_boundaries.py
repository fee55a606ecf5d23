"""Every enqueue path of arq, through a real ``arq`` worker process on Redis.

The producer side is this test process (a pool built with ``pool_options()``);
the worker is ``tests/arq/worker_app.py`` run by the ``arq`` command.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis
import structlog
from arq.jobs import Job
from opentelemetry import trace

from ctxcarry.adapters.arq import ENVELOPE_KEY
from tests.arq.conftest import ArqWorker, producer, result, run, unique_queue
from tests.arq.worker_app import tenant

pytestmark = pytest.mark.integration

IDENTITY = {"task_id", "task_name", "parent_task_id"}


def _carried(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report["log"].items() if k not in IDENTITY}


async def _enqueue(worker: ArqWorker, function: str, *args: Any, **kwargs: Any) -> Any:
    pool = await producer(worker.url, worker.queue)
    try:
        job = await pool.enqueue_job(function, *args, **kwargs)
        return await result(job)
    finally:
        await pool.aclose()


def test_enqueue_job_carries_queuevars_structlog_and_trace(
    shared_worker: ArqWorker, tracer: trace.Tracer
) -> None:
    async def scenario() -> tuple[Any, str]:
        structlog.contextvars.bind_contextvars(request_id="r-1", user="alice")
        with tracer.start_as_current_span("web request") as span, tenant("acme"):
            trace_id = f"{span.get_span_context().trace_id:032x}"
            return await _enqueue(shared_worker, "report", 1, x="y"), trace_id

    report, trace_id = run(scenario())
    assert report["tenant"] == "acme"
    assert _carried(report) == {"request_id": "r-1", "user": "alice"}
    assert report["trace_id"] == trace_id
    assert report["args"] == [1]
    assert report["kwargs"] == ["x"]  # the carrier is not a kwarg


def test_job_identity_is_bound_and_never_inherited(shared_worker: ArqWorker) -> None:
    report = run(_enqueue(shared_worker, "report"))
    assert report["log"] == {"task_id": report["job_id"], "task_name": "report"}
    assert report["tenant"] is None
    assert report["trace_id"] is None


def test_nothing_a_job_binds_leaks_into_the_next_one(shared_worker: ArqWorker) -> None:
    async def scenario() -> tuple[Any, Any]:
        with tenant("first"):
            first = await _enqueue(shared_worker, "bind_and_report")
        return first, await _enqueue(shared_worker, "report")

    first, second = run(scenario())
    assert first["tenant"] == "first"
    assert second["tenant"] is None
    assert _carried(second) == {}


@pytest.mark.parametrize("how", ["defer_by", "defer_until"])
def test_deferred_jobs_run_in_the_context_they_were_enqueued_in(
    shared_worker: ArqWorker, how: str
) -> None:
    async def scenario() -> Any:
        defer: dict[str, Any] = (
            {"_defer_by": timedelta(milliseconds=300)}
            if how == "defer_by"
            else {"_defer_until": datetime.now(timezone.utc) + timedelta(milliseconds=300)}
        )
        pool = await producer(shared_worker.url, shared_worker.queue)
        try:
            structlog.contextvars.bind_contextvars(request_id=f"deferred-{how}")
            with tenant("later"):
                job = await pool.enqueue_job("report", **defer)
            structlog.contextvars.clear_contextvars()  # changed after enqueue: must not matter
            return await result(job)
        finally:
            await pool.aclose()

    report = run(scenario())
    assert report["tenant"] == "later"
    assert _carried(report) == {"request_id": f"deferred-{how}"}


def test_retry_runs_the_next_try_in_the_enqueued_context(shared_worker: ArqWorker) -> None:
    async def scenario() -> Any:
        structlog.contextvars.bind_contextvars(request_id="r-retry")
        with tenant("retried"):
            return await _enqueue(shared_worker, "retry_once")

    report = run(scenario())
    assert report["job_try"] == 2
    assert report["tenant"] == "retried"
    # try 1 bound first_try=... in its body: the retry does not inherit it
    assert _carried(report) == {"request_id": "r-retry"}
    assert report["log"]["task_id"] == report["job_id"]


def test_nested_enqueue_through_ctx_redis_inherits_the_running_job(
    shared_worker: ArqWorker, tracer: trace.Tracer
) -> None:
    async def scenario() -> tuple[Any, Any, str]:
        pool = await producer(shared_worker.url, shared_worker.queue)
        try:
            structlog.contextvars.bind_contextvars(request_id="r-nested")
            with tracer.start_as_current_span("web") as span, tenant("parent-tenant"):
                job = await pool.enqueue_job("nested", shared_worker.queue)
            parent = await result(job)
            child_job = Job(
                parent["child"],
                pool,
                _queue_name=shared_worker.queue,
                _deserializer=pool.job_deserializer,
            )
            child = await result(child_job)
            return parent, child, f"{span.get_span_context().trace_id:032x}"
        finally:
            await pool.aclose()

    parent, child, trace_id = run(scenario())
    assert child["tenant"] == "parent-tenant"
    assert _carried(child) == {"request_id": "r-nested", "parent_step": "bound-in-parent"}
    assert child["trace_id"] == trace_id
    # the child's identity is its own, and names its parent; the parent has none
    assert child["log"]["task_id"] == child["job_id"] != parent["job_id"]
    assert child["log"]["task_name"] == "report"
    assert child["log"]["parent_task_id"] == parent["job_id"]
    assert "parent_task_id" not in parent["log"]


def test_arq_log_lines_carry_the_job_identity_and_context_but_not_the_carrier(
    shared_worker: ArqWorker,
) -> None:
    async def scenario() -> Any:
        structlog.contextvars.bind_contextvars(request_id="r-logs")
        return await _enqueue(shared_worker, "report", "visible-arg")

    report = run(scenario())
    job_id = report["job_id"]
    lines = [line for line in shared_worker.log_lines() if job_id in line["message"]]
    started = [line for line in lines if "→" in line["message"]]
    finished = [line for line in lines if "←" in line["message"]]
    assert started, shared_worker.log_lines()[-5:]
    assert finished
    for line in started + finished:
        assert line["context"] == {
            "request_id": "r-logs",
            "task_id": job_id,
            "task_name": "report",
        }
    assert "visible-arg" in started[0]["message"]
    assert ENVELOPE_KEY not in started[0]["message"]  # never printed
    own = [
        line
        for line in shared_worker.log_lines()
        if line["message"] == "report job running" and line["context"].get("task_id") == job_id
    ]
    assert own
    assert own[0]["context"]["request_id"] == "r-logs"


def test_the_carrier_is_in_the_envelope_not_in_the_kwargs(arq_url: str) -> None:
    queue = unique_queue("envelope-")  # no worker: the job stays in Redis

    async def scenario() -> str:
        pool = await producer(arq_url, queue)
        try:
            structlog.contextvars.bind_contextvars(request_id="r-envelope")
            with tenant("acme"):
                job = await pool.enqueue_job("report", 1, key="value")
            return job.job_id
        finally:
            await pool.aclose()

    job_id = run(scenario())
    client = redis.Redis.from_url(arq_url)
    try:
        envelope = pickle.loads(client.get(f"arq:job:{job_id}"))
        client.delete(f"arq:job:{job_id}", queue)
    finally:
        client.close()
    assert envelope["k"] == {"key": "value"}
    assert envelope["a"] == (1,)
    carrier = envelope[ENVELOPE_KEY]
    assert carrier["structlog_context"] == {"request_id": "r-envelope"}
    assert carrier["ctxcarry"]["vars"] == {"arq_tests.tenant": "acme"}
