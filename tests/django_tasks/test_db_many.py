"""1,000 tasks with distinct contexts through one db_worker: no wrong context, no leak."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from django.db import transaction

from tests.django_tasks.conftest import SESSION_QUEUE, run_db_worker
from tests.django_tasks.vars import djt_tenant

pytestmark = pytest.mark.integration

COUNT = 1000


def _enqueue(task: Any, n: int, expected: dict[str, int]) -> None:
    # every third task carries nothing: it must not see its predecessor's context
    if n % 3 == 2:
        task_result = task.enqueue(f"n{n}")
    else:
        tokens = structlog.contextvars.bind_contextvars(djt_n=n)
        with djt_tenant(f"tenant-{n}"):
            task_result = task.enqueue(f"n{n}")
        structlog.contextvars.reset_contextvars(**tokens)
    expected[str(task_result.id)] = n


def test_a_thousand_tasks_each_see_exactly_their_own_context(db_tasks: str) -> None:
    from django_tasks_db.models import DBTaskResult

    from tests.django_tasks.tasks import probe

    task = probe.using(queue_name=SESSION_QUEUE)
    expected: dict[str, int] = {}
    with transaction.atomic():  # one commit: the worker starts once all are enqueued
        for n in range(COUNT):
            _enqueue(task, n, expected)

    # WARNING: no per-task log lines to render (2,000 of them); the leak check is the results.
    run_db_worker(db_tasks, log_level="WARNING")

    rows = DBTaskResult.objects.filter(queue_name=SESSION_QUEUE)
    reports = {str(row.id): (row.status, row.return_value) for row in rows}
    assert len(reports) == COUNT
    wrong = []
    for task_id, n in expected.items():
        status, report = reports[task_id]
        carried = n % 3 != 2
        want_log = {"task_id": task_id, "task_name": task.module_path}
        if carried:
            want_log["djt_n"] = n
        ok = (
            status == "SUCCESSFUL"
            and report["label"] == f"n{n}"
            and report["tenant"] == (f"tenant-{n}" if carried else None)
            and report["log"] == want_log  # no djt_leak, no other task's keys
        )
        if not ok:
            wrong.append((n, status, report))
    assert wrong == []
