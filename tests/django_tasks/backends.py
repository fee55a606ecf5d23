"""The TASKS and RQ_QUEUES settings shared by the test process and the worker subprocesses."""

from __future__ import annotations

from typing import Any

from tests.django_tasks.compat import IMMEDIATE_BACKEND


def tasks_setting(queue: str) -> dict[str, Any]:
    """``default``: the database backend; ``immediate``; ``rq``: django-tasks-rq on ``queue``."""
    return {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []},
        "immediate": {"BACKEND": IMMEDIATE_BACKEND, "QUEUES": []},
        "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]},
    }


def rq_queues_setting(redis_url: str, queue: str) -> dict[str, Any]:
    """One django-rq queue, this session's own, on ``redis_url``."""
    return {queue: {"URL": redis_url, "DEFAULT_TIMEOUT": 60}}
