"""500 concurrent jobs in one event loop, each with its own context.

The jobs are enqueued first, concurrently (each producer task in its own
context), then one burst worker with ``max_jobs=500`` reads them all at once
and runs them interleaved in its event loop: each job checks its QueueVar and
structlog keys at every await, and rebinds them on the way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog

from tests.arq.conftest import StartWorker, producer, result, run, unique_queue
from tests.arq.worker_app import tenant

pytestmark = pytest.mark.integration

JOBS = 500


def test_500_concurrent_jobs_each_see_only_their_own_context(
    arq_worker: StartWorker, arq_url: str
) -> None:
    queue = unique_queue("concurrent-")

    async def scenario() -> tuple[list[Any], Any]:
        pool = await producer(arq_url, queue)
        gate = asyncio.Semaphore(20)

        async def enqueue(index: int) -> Any:
            structlog.contextvars.bind_contextvars(request_id=f"req-{index}")
            with tenant(f"tenant-{index}"):
                async with gate:
                    return await pool.enqueue_job("concurrent", index)

        try:
            jobs = await asyncio.gather(*(enqueue(i) for i in range(JOBS)))
            probe = await pool.enqueue_job("report")  # nothing bound: must see nothing
            worker = arq_worker(
                burst=True,
                queue=queue,
                CTXCARRY_ARQ_MAX_JOBS=str(JOBS + 1),
                CTXCARRY_ARQ_BARRIER=str(JOBS),
            )
            await asyncio.to_thread(worker.wait_exit, 120)
            return [await result(job) for job in jobs], await result(probe)
        finally:
            await pool.aclose()

    reports, probe = run(scenario())
    wrong = [(i, r["wrong"]) for i, r in enumerate(reports) if r["wrong"]]
    assert wrong == []
    for index, report in enumerate(reports):
        assert report["tenant"] == f"tenant-{index}"
        assert report["log"] == {
            "request_id": f"req-{index}",
            "task_id": report["job_id"],
            "task_name": "concurrent",
            "step": 4,  # bound by the job itself on its way
            "own": index,
        }
    assert max(r["high_water"] for r in reports) == JOBS  # all in flight at once
    assert probe["tenant"] is None
    assert probe["log"] == {"task_id": probe["job_id"], "task_name": "report"}
