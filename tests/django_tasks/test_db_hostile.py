"""Hostile carriers written straight into the row, and mixed-version deploys (database)."""

from __future__ import annotations

from typing import Any

import pytest

from ctxcarry.adapters import django_tasks as adapter
from tests.django_tasks.conftest import SESSION_QUEUE, run_db_worker
from tests.django_tasks.helpers import bound, own_keys, result_of

pytestmark = pytest.mark.integration


def _deep(levels: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(levels):
        nested = [nested]
    return nested


HOSTILE: dict[str, Any] = {
    "string": "not a carrier",
    "number": 12,
    "list": [1, 2, 3],
    "envelope not an object": {"ctxcarry": "not an object"},
    "future format": {"ctxcarry": {"v": 999, "vars": {"djt_tenant": "x"}}},
    "structlog not an object": {"structlog_context": "x"},
    "huge key": {"structlog_context": {"k" * 100_000: 1}},
    "huge value": {"structlog_context": {"djt_big": "v" * 2_000_000}},
    "deep": {"structlog_context": {"djt_deep": _deep(200)}},
    "bad traceparent type": {"traceparent": 5},
    "bad traceparent": {"traceparent": "00-zzzz-yyyy-01"},
    "forged identity": {"structlog_context": {"task_id": "forged", "task_name": "forged"}},
}


@pytest.fixture
def tasks(db_tasks: str) -> Any:
    from tests.django_tasks import tasks

    return tasks


def test_hostile_carriers_never_stop_a_task(tasks: Any, db_tasks: str) -> None:
    from django_tasks_db.models import DBTaskResult

    probe = tasks.probe.using(queue_name=SESSION_QUEUE)
    results = {}
    for priority, (label, carrier) in enumerate(HOSTILE.items(), start=1):
        task_result = probe.using(priority=priority).enqueue(label)
        row = DBTaskResult.objects.get(id=task_result.id)
        row.args_kwargs["ctxcarry"] = carrier
        row.save(update_fields=["args_kwargs"])
        results[label] = task_result
    with bound("acme", djt_request="after"):
        after = probe.enqueue("after the hostile ones")  # lowest priority: runs last

    run = run_db_worker(db_tasks)

    for label, task_result in results.items():
        report = result_of(task_result)  # SUCCESSFUL
        assert report["tenant"] is None, label
        assert report["log"]["task_id"] == str(task_result.id), label
        assert "djt_leak" not in report["log"], label
    assert result_of(results["forged identity"])["log"]["task_name"].endswith(".probe")
    report = result_of(after)
    assert report["tenant"] == "acme"
    assert own_keys(report) == {"djt_request": "after"}
    warnings = [line for line in run.lines if "ctxcarry" in str(line.get("event"))]
    assert warnings  # the dropped parts are named, once per task
    assert not any("v" * 1000 in str(line) for line in run.lines)  # never the raw value


def test_a_new_producer_and_a_worker_without_the_adapter(tasks: Any, db_tasks: str) -> None:
    with bound("acme", djt_request="mixed"):
        task_result = tasks.probe.using(queue_name=SESSION_QUEUE).enqueue("old worker")

    run_db_worker(db_tasks, with_adapter=False)

    report = result_of(task_result)  # the extra key in args_kwargs is ignored
    assert report["label"] == "old worker"
    assert report["tenant"] is None


def test_an_old_producer_and_a_worker_with_the_adapter(tasks: Any, db_tasks: str) -> None:
    adapter.uninstall()  # a producer without the adapter writes rows without the key
    try:
        with bound("acme", djt_request="mixed"):
            task_result = tasks.probe.using(queue_name=SESSION_QUEUE).enqueue("old producer")
    finally:
        adapter.install()

    run_db_worker(db_tasks)

    report = result_of(task_result)
    assert report["tenant"] is None
    assert own_keys(report) == {}
    assert report["log"]["task_id"] == str(task_result.id)
