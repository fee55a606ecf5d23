"""The database backend with django-tasks-db's real ``db_worker`` on PostgreSQL."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
import structlog
from asgiref.sync import async_to_sync

from ctxcarry.adapters import django_tasks as adapter
from tests.django_tasks.conftest import SESSION_QUEUE, run_db_worker
from tests.django_tasks.helpers import bound, own_keys, result_of, trace_id_of

pytestmark = pytest.mark.integration


@pytest.fixture
def tasks(db_tasks: str) -> Any:
    from tests.django_tasks import tasks

    return tasks


def on_queue(task: Any, **using: Any) -> Any:
    return task.using(queue_name=SESSION_QUEUE, **using)


def test_every_enqueue_path_carries_the_context(tasks: Any, db_tasks: str, tracer: Any) -> None:
    run_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    with tracer.start_as_current_span("web") as span, bound("acme", djt_request="r-1"):
        results = {
            "enqueue": on_queue(tasks.probe).enqueue("enqueue"),
            "aenqueue": async_to_sync(on_queue(tasks.probe).aenqueue)("aenqueue"),
            "using": on_queue(tasks.probe, priority=7).enqueue("using"),
            "run_after": on_queue(tasks.probe, run_after=run_after).enqueue("run_after"),
            "async def": on_queue(tasks.aprobe).enqueue("async def"),
        }
        trace_id = trace_id_of(span)
    time.sleep(max(0.0, (run_after - datetime.datetime.now(datetime.timezone.utc)).total_seconds()))

    run_db_worker(db_tasks)

    for label, task_result in results.items():
        report = result_of(task_result)
        assert report["label"] == label
        assert report["tenant"] == "acme", label
        assert own_keys(report) == {"djt_request": "r-1"}, label
        assert report["log"]["task_id"] == str(task_result.id), label
        assert report["log"]["task_name"] == task_result.task.module_path, label
        assert report["trace_id"] == trace_id, label


def test_the_carrier_is_invisible_to_the_task_result(tasks: Any, db_tasks: str) -> None:
    from django_tasks_db.models import DBTaskResult

    with bound("acme", djt_request="r-2"):
        task_result = on_queue(tasks.probe).enqueue("hidden")
    assert task_result.args == ["hidden"]
    assert task_result.kwargs == {}
    row = DBTaskResult.objects.get(id=task_result.id)
    assert row.args_kwargs["ctxcarry"]["structlog_context"] == {"djt_request": "r-2"}
    refetched = row.task_result
    assert (refetched.args, refetched.kwargs) == (["hidden"], {})


def test_nothing_bound_writes_no_key(tasks: Any, db_tasks: str) -> None:
    from django_tasks_db.models import DBTaskResult

    task_result = on_queue(tasks.probe).enqueue("bare")
    assert "ctxcarry" not in DBTaskResult.objects.get(id=task_result.id).args_kwargs


def test_enqueue_inside_a_task_inherits_its_context_and_span(
    tasks: Any, db_tasks: str, tracer: Any
) -> None:
    with tracer.start_as_current_span("web") as span, bound("acme", djt_request="r-3"):
        parent_result = on_queue(tasks.parent).enqueue("p", queue_name=SESSION_QUEUE)
        trace_id = trace_id_of(span)

    run_db_worker(db_tasks)

    parent = result_of(parent_result)
    child = result_of(tasks.probe.get_result(parent["child_id"]))
    assert child["tenant"] == "acme"
    assert own_keys(child) == {"djt_request": "r-3", "djt_parent": "p"}
    assert child["log"]["task_id"] == parent["child_id"]  # its own id, never the parent's
    assert child["trace_id"] == trace_id
    assert child["span_id"] == parent["span_id"]  # the parent task's span is the parent


def test_each_task_starts_clean_and_the_worker_is_clean_after(tasks: Any, db_tasks: str) -> None:
    with bound("acme", djt_request="r-4"):
        first = on_queue(tasks.probe, priority=3).enqueue("first")
        failing = on_queue(tasks.failing_probe, priority=2).enqueue("failing")
    after_failure = on_queue(tasks.probe, priority=1).enqueue("after-failure")
    last = on_queue(tasks.probe).enqueue("last")

    run = run_db_worker(db_tasks)

    assert result_of(first)["tenant"] == "acme"
    failing.refresh()
    assert failing.status == "FAILED"
    for task_result in (after_failure, last):
        report = result_of(task_result)
        assert report["tenant"] is None
        assert own_keys(report) == {}  # neither the carried keys nor a leaked djt_leak
    idle = [line for line in run.lines if "No more tasks" in str(line.get("event"))]
    assert idle
    assert not {"task_id", "djt_request", "djt_leak"} & idle[0].keys()


def test_worker_log_lines_for_a_task_carry_its_context_and_identity(
    tasks: Any, db_tasks: str
) -> None:
    with bound("acme", djt_request="r-5"):
        task_result = on_queue(tasks.probe).enqueue("logged")

    run = run_db_worker(db_tasks)

    lines = run.lines_about(str(task_result.id))
    states = [line["event"].rsplit("state=", 1)[1] for line in lines]
    assert states == ["RUNNING", "SUCCESSFUL"]
    for line in lines:
        assert line["task_id"] == str(task_result.id)
        assert line["task_name"] == task_result.task.module_path
        assert line["djt_request"] == "r-5"
        assert "djt_leak" not in line or line["event"].endswith("SUCCESSFUL")


def test_uninstalled_nothing_travels(tasks: Any, db_tasks: str) -> None:
    adapter.uninstall()
    try:
        with bound("acme", djt_request="r-6"):
            task_result = on_queue(tasks.probe).enqueue("uninstalled")
    finally:
        adapter.install()
    run_db_worker(db_tasks)
    report = result_of(task_result)
    assert report["tenant"] is None
    assert own_keys(report) == {}


def test_structlog_keys_bound_in_the_worker_are_kept() -> None:
    # The worker's own bindings (made outside any task) survive each task.
    structlog.contextvars.bind_contextvars(worker="w1")
    assert structlog.contextvars.get_contextvars() == {"worker": "w1"}


def test_a_raising_receiver_before_ours_still_leaves_the_next_task_clean(
    tasks: Any, db_tasks: str
) -> None:
    # tests.django_tasks.raising_receivers: its task_finished receiver runs before ours and
    # raises on the SUCCESSFUL send; db_worker marks the task FAILED and sends it again.
    with bound("acme", djt_request="r-7"):
        first = on_queue(tasks.probe, priority=2).enqueue("raise-once")
    after = on_queue(tasks.probe, priority=1).enqueue("after")

    run = run_db_worker(db_tasks, raising_receiver=True)

    first.refresh()
    assert first.status == "FAILED"  # what a raising receiver does, ctxcarry or not
    report = result_of(after)
    assert report["tenant"] is None
    assert own_keys(report) == {}
    idle = [line for line in run.lines if "No more tasks" in str(line.get("event"))]
    assert idle
    assert not {"task_id", "djt_request", "djt_leak"} & idle[0].keys()
