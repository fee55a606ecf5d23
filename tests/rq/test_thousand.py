"""1,000 jobs, each enqueued in its own context, run by two SimpleWorker processes at once.

A SimpleWorker runs every job in one long-lived process: each job leaves its
own bindings behind, so a job that saw anything but its own context -- a
neighbour's, or the one before it -- fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import structlog
from opentelemetry import trace
from rq import Queue
from rq.job import Job

from tests.rq import jobs
from tests.rq.conftest import REPO, WORKER_TIMEOUT, expected_log

pytestmark = pytest.mark.integration

JOBS = 1000


@pytest.mark.usefixtures("installed")
def test_a_thousand_jobs_each_see_only_their_own_context(
    rq_url: str, queue: Queue, tracer: trace.Tracer
) -> None:
    sent: dict[str, tuple[int, str]] = {}
    with queue.connection.pipeline() as pipe:
        for n in range(JOBS):
            with (
                tracer.start_as_current_span(f"request {n}") as span,
                structlog.contextvars.bound_contextvars(request_id=f"r{n}"),
                jobs.rq_tenant(f"t{n}"),
            ):
                job = queue.enqueue(jobs.probe, f"job-{n}", pipeline=pipe)
            sent[job.id] = (n, format(span.get_span_context().trace_id, "032x"))
        pipe.execute()

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [
        *(sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", rq_url),
        *("-c", "tests.rq.worker_settings", "-w", "rq.worker.SimpleWorker", "-q", queue.name),
    ]
    workers = [
        subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=WORKER_TIMEOUT)
        assert worker.returncode == 0, errors.decode(errors="replace")[-3000:]

    pids = set()
    for job in Job.fetch_many(list(sent), connection=queue.connection):
        assert job is not None
        n, trace_id = sent[job.id]
        report = job.return_value()
        assert report is not None, job.get_status()
        assert report["label"] == f"job-{n}"
        assert report["tenant"] == f"t{n}"
        assert report["log"] == expected_log(job.id, request_id=f"r{n}")
        assert report["trace_id"] == trace_id
        pids.add(report["pid"])
    assert len(pids) == 2  # both workers took jobs
