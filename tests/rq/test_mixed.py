"""Mixed-version deploys: a producer or a worker without the adapter, both ways."""

from __future__ import annotations

import pytest
import structlog
from rq import Queue

from ctxcarry.adapters.rq import META_KEY, install, uninstall
from tests.rq import jobs
from tests.rq.conftest import WorkerRunner, expected_log, result

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("worker_class", ["rq.worker.Worker", "rq.worker.SimpleWorker"])
def test_a_worker_without_the_adapter_runs_jobs_from_a_producer_with_it(
    queue: Queue, run_worker: WorkerRunner, worker_class: str
) -> None:
    install()
    with structlog.contextvars.bound_contextvars(request_id="r-new"), jobs.rq_tenant("acme"):
        job = queue.enqueue(jobs.probe, "old-worker", meta={"owner": "billing"})
    assert META_KEY in job.meta
    run = run_worker(queue, worker_class=worker_class, install=False)
    assert run.returncode == 0, run.output
    report = result(queue, job.id)
    assert report["tenant"] is None
    assert report["log"] == {}
    assert queue.fetch_job(job.id).meta["owner"] == "billing"  # type: ignore[union-attr]


@pytest.mark.parametrize("worker_class", ["rq.worker.Worker", "rq.worker.SimpleWorker"])
def test_a_worker_with_the_adapter_runs_jobs_from_a_producer_without_it(
    queue: Queue, run_worker: WorkerRunner, worker_class: str
) -> None:
    uninstall()
    with structlog.contextvars.bound_contextvars(request_id="r-old"), jobs.rq_tenant("acme"):
        first = queue.enqueue(jobs.probe, "old-producer-1")
        second = queue.enqueue(jobs.probe, "old-producer-2")
    assert META_KEY not in first.meta
    run = run_worker(queue, worker_class=worker_class)
    assert run.returncode == 0, run.output
    for job in (first, second):  # nothing carried, and still nothing left from the job before
        report = result(queue, job.id)
        assert report["tenant"] is None
        assert report["log"] == expected_log(job.id)
