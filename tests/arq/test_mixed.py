"""Mixed-version deploys, both ways, and cron jobs (which the worker enqueues itself)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis
import structlog

from tests.arq.conftest import StartWorker, producer, result, run, unique_queue
from tests.arq.worker_app import tenant

pytestmark = pytest.mark.integration


def test_new_producer_old_worker_the_job_runs_unchanged(
    arq_worker: StartWorker, arq_url: str
) -> None:
    """A worker without the adapter ignores the envelope key; args and kwargs are intact."""
    queue = unique_queue("old-worker-")

    async def scenario() -> Any:
        pool = await producer(arq_url, queue, carrying=True)
        try:
            structlog.contextvars.bind_contextvars(request_id="r-new")
            with tenant("acme"):
                job = await pool.enqueue_job("report", 1, two=2)
            worker = arq_worker(mode="plain", burst=True, queue=queue)
            await asyncio.to_thread(worker.wait_exit, 60)
            return await result(job)
        finally:
            await pool.aclose()

    report = run(scenario())
    assert report["args"] == [1]
    assert report["kwargs"] == ["two"]  # no stray kwarg reached the function
    assert report["tenant"] is None  # the old worker restores nothing
    assert report["log"] == {}


def test_old_producer_new_worker_the_job_runs_with_defaults(
    arq_worker: StartWorker, arq_url: str
) -> None:
    """A job without a carrier: QueueVars at their defaults, the job's identity bound."""
    worker = arq_worker()

    async def scenario() -> Any:
        pool = await producer(arq_url, worker.queue, carrying=False)
        try:
            structlog.contextvars.bind_contextvars(request_id="r-old")
            with tenant("acme"):
                job = await pool.enqueue_job("report", 1)
            return await result(job)
        finally:
            await pool.aclose()

    report = run(scenario())
    assert report["args"] == [1]
    assert report["tenant"] is None
    assert report["log"] == {"task_id": report["job_id"], "task_name": "report"}


def test_cron_jobs_carry_the_workers_own_context(arq_worker: StartWorker, arq_url: str) -> None:
    """The worker enqueues cron jobs from its main task: they carry what it bound at start-up.

    ``on_startup`` bound ``worker=w-startup`` and set the QueueVar; a cron job
    sees both (no request's context, no trace), plus its own identity.
    """
    worker = arq_worker(burst=True, CTXCARRY_ARQ_CRON="1")
    assert worker.wait_exit(60) == 0, worker.output()
    client = redis.Redis.from_url(arq_url)
    try:
        raw = client.get(f"{worker.queue}:cron-report")
    finally:
        client.close()
    assert raw is not None, worker.output()
    report = json.loads(raw)
    assert report["tenant"] == "worker-default"
    assert report["trace_id"] is None
    assert report["log"] == {
        "worker": "w-startup",
        "task_id": report["job_id"],
        "task_name": "cron:cron_report",
    }
    assert report["job_id"].startswith("cron:cron_report:")
