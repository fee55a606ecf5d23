"""The RQ backend (django-tasks-rq) with django-rq's real ``rqworker`` on Redis."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from ctxcarry.adapters import django_tasks as adapter
from tests.django_tasks.conftest import SESSION_QUEUE, run_rq_worker
from tests.django_tasks.helpers import bound, own_keys, result_of, trace_id_of
from tests.django_tasks.test_db_hostile import HOSTILE

pytestmark = pytest.mark.integration

WORKERS = {"Worker": None, "SimpleWorker": "rq.worker.SimpleWorker"}


@pytest.fixture
def tasks(rq_redis: str) -> Any:
    from tests.django_tasks import tasks

    return tasks


def on_rq(task: Any, **using: Any) -> Any:
    return task.using(backend="rq", queue_name=SESSION_QUEUE, **using)


def fetch_job(task_result: Any) -> Any:
    import django_rq
    from django_tasks_rq import Job

    return Job.fetch(str(task_result.id), connection=django_rq.get_connection(SESSION_QUEUE))


@pytest.mark.parametrize("worker_class", WORKERS.values(), ids=WORKERS.keys())
def test_every_enqueue_path_carries_the_context(
    tasks: Any, tracer: Any, worker_class: str | None
) -> None:
    run_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    with tracer.start_as_current_span("web") as span, bound("acme", djt_request="r-1"):
        results = {
            "enqueue": on_rq(tasks.probe).enqueue("enqueue"),
            "aenqueue": async_to_sync(on_rq(tasks.probe).aenqueue)("aenqueue"),
            "run_after": on_rq(tasks.probe, run_after=run_after).enqueue("run_after"),
            "async def": on_rq(tasks.aprobe).enqueue("async def"),
        }
        parent_result = on_rq(tasks.parent).enqueue("p", backend="rq", queue_name=SESSION_QUEUE)
        trace_id = trace_id_of(span)
    clean = on_rq(tasks.probe).enqueue("clean")  # nothing bound: must see nothing
    time.sleep(max(0.0, (run_after - datetime.datetime.now(datetime.timezone.utc)).total_seconds()))

    run = run_rq_worker(worker_class=worker_class)

    for label, task_result in results.items():
        report = result_of(task_result)
        assert report["label"] == label
        assert report["tenant"] == "acme", label
        assert own_keys(report) == {"djt_request": "r-1"}, label
        assert report["log"]["task_id"] == str(task_result.id), label
        assert report["trace_id"] == trace_id, label
    parent = result_of(parent_result)
    child = result_of(on_rq(tasks.probe).get_result(parent["child_id"]))
    assert child["tenant"] == "acme"
    assert own_keys(child) == {"djt_request": "r-1", "djt_parent": "p"}
    assert child["log"]["task_id"] == parent["child_id"]
    assert (child["trace_id"], child["span_id"]) == (trace_id, parent["span_id"])
    report = result_of(clean)
    assert report["tenant"] is None
    assert own_keys(report) == {}
    lines = run.lines_about(str(results["enqueue"].id))
    assert [line["event"].rsplit("state=", 1)[1] for line in lines] == ["RUNNING", "SUCCESSFUL"]
    for line in lines:
        assert (line["task_id"], line["djt_request"]) == (str(results["enqueue"].id), "r-1")


def test_the_carrier_is_in_the_job_meta_not_in_the_task_arguments(tasks: Any) -> None:
    with bound("acme", djt_request="r-2"):
        task_result = on_rq(tasks.probe).enqueue("meta")
    assert (task_result.args, task_result.kwargs) == (["meta"], {})
    job = fetch_job(task_result)
    assert job.kwargs == {}
    assert job.meta["ctxcarry"]["structlog_context"] == {"djt_request": "r-2"}
    assert job.meta["backend_name"] == "rq"
    run_rq_worker()


def test_simple_worker_jobs_start_clean_after_a_failure(tasks: Any) -> None:
    with bound("acme", djt_request="r-3"):
        first = on_rq(tasks.probe).enqueue("first")
        failing = on_rq(tasks.failing_probe).enqueue("failing")
    after = on_rq(tasks.probe).enqueue("after")

    run_rq_worker(worker_class="rq.worker.SimpleWorker")

    assert result_of(first)["tenant"] == "acme"
    failing.refresh()
    assert failing.status == "FAILED"
    report = result_of(after)
    assert report["tenant"] is None
    assert own_keys(report) == {}


def test_hostile_meta_never_stops_a_job(tasks: Any) -> None:
    results = {}
    for label, carrier in HOSTILE.items():
        task_result = on_rq(tasks.probe).enqueue(label)
        job = fetch_job(task_result)
        job.meta["ctxcarry"] = carrier
        job.save_meta()
        results[label] = task_result

    run_rq_worker(worker_class="rq.worker.SimpleWorker")

    for label, task_result in results.items():
        report = result_of(task_result)
        assert report["tenant"] is None, label
        assert report["log"]["task_id"] == str(task_result.id), label


def test_mixed_versions(tasks: Any) -> None:
    with bound("acme", djt_request="new"):
        new_producer = on_rq(tasks.probe).enqueue("new producer")
    run_rq_worker(with_adapter=False)
    assert result_of(new_producer)["tenant"] is None  # ran; the meta key was ignored

    adapter.uninstall()
    try:
        with bound("acme", djt_request="old"):
            old_producer = on_rq(tasks.probe).enqueue("old producer")
    finally:
        adapter.install()
    assert "ctxcarry" not in fetch_job(old_producer).meta
    run_rq_worker()
    report = result_of(old_producer)
    assert report["tenant"] is None
    assert report["log"]["task_id"] == str(old_producer.id)


def test_a_lost_task_finished_is_undone_before_the_next_job(tasks: Any) -> None:
    # tests.django_tasks.raising_receivers: its task_finished receiver runs before ours and
    # raises on every send, so ours never runs; the SimpleWorker fails the job and goes on.
    with bound("acme", djt_request="r-4"):
        first = on_rq(tasks.probe).enqueue("raise-always")
    after = on_rq(tasks.probe).enqueue("after")

    run = run_rq_worker(worker_class="rq.worker.SimpleWorker", raising_receiver=True)

    first.refresh()
    assert first.status == "FAILED"
    report = result_of(after)
    assert report["tenant"] is None
    assert own_keys(report) == {}
    assert [line for line in run.lines if "did not reach ctxcarry" in str(line.get("event"))]
