"""The enqueue side, read back from Redis: what ``job.meta`` holds, and what it never changes."""

from __future__ import annotations

import logging

import pytest
import redis
import structlog
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from ctxcarry import Carrier
from ctxcarry.adapters.rq import META_KEY, install
from tests.rq import jobs
from tests.rq.conftest import WorkerRunner, expected_log, result, unique_name

pytestmark = pytest.mark.integration


def stored_meta(queue: Queue, job_id: str) -> dict[str, object]:
    job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
    return job.meta


@pytest.mark.usefixtures("installed")
def test_the_carrier_is_one_meta_key_beside_the_callers_meta(queue: Queue) -> None:
    shared = {"owner": "billing"}  # one dict for many jobs, as callers do
    with structlog.contextvars.bound_contextvars(request_id="r-1"), jobs.rq_tenant("acme"):
        first = queue.enqueue(jobs.probe, "a", meta=shared)
        datas = [Queue.prepare_data(jobs.probe, ("b",), meta=shared)]
        (second,) = queue.enqueue_many(datas)
    assert shared == {"owner": "billing"}  # never mutated
    assert datas[0].meta == {"owner": "billing"}
    for job in (first, second):
        assert stored_meta(queue, job.id) == {
            "owner": "billing",
            META_KEY: {
                "structlog_context": {"request_id": "r-1"},
                "ctxcarry": {
                    "v": 1,
                    "vars": {"rq_tenant": "acme"},
                    "modules": {"rq_tenant": "tests.rq.jobs"},
                },
            },
        }


@pytest.mark.usefixtures("installed")
def test_a_copied_carrier_never_wins(queue: Queue) -> None:
    copied = {META_KEY: {"structlog_context": {"request_id": "stale"}}}
    with structlog.contextvars.bound_contextvars(request_id="fresh"):
        job = queue.enqueue(jobs.probe, "a", meta=copied)
    assert stored_meta(queue, job.id)[META_KEY] == {
        "structlog_context": {"request_id": "fresh"},
        "ctxcarry": {"v": 1, "vars": {}},
    }
    bare = queue.enqueue(jobs.probe, "b", meta=copied)  # nothing bound: no carrier at all
    assert META_KEY not in stored_meta(queue, bare.id)


def test_uninstalled_nothing_is_written(queue: Queue) -> None:
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        job = queue.enqueue(jobs.probe, "a")
    assert stored_meta(queue, job.id) == {}


def test_a_refused_context_never_stops_an_enqueue(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    install(carrier=Carrier(strict=True, max_keys=1))
    with structlog.contextvars.bound_contextvars(a=1, b=2), caplog.at_level(logging.ERROR):
        job = queue.enqueue(jobs.probe, "a")
    assert stored_meta(queue, job.id) == {}
    assert "rq Job.create failed" in caplog.text


def test_install_semantics(queue: Queue) -> None:
    small = Carrier(max_keys=1)
    install(carrier=small)
    install()  # keeps the Carrier chosen
    with structlog.contextvars.bound_contextvars(a=1, b=2):
        job = queue.enqueue(jobs.probe, "a")
    assert len(stored_meta(queue, job.id)[META_KEY]["structlog_context"]) == 1


def test_json_serializer_queues_carry_too(
    connection: redis.Redis, run_worker: WorkerRunner
) -> None:
    install()
    queue = Queue(unique_name("json-"), connection=connection, serializer=JSONSerializer)
    with structlog.contextvars.bound_contextvars(request_id="r-json"), jobs.rq_tenant("acme"):
        job_id = queue.enqueue("tests.rq.jobs.probe", "json").id
    run = run_worker(queue, worker_class="rq.worker.SimpleWorker", serializer="json")
    assert run.returncode == 0, run.output
    report = result(queue, job_id)
    assert report["tenant"] == "acme"
    assert report["log"] == expected_log(job_id, request_id="r-json")
