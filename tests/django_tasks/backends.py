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
    """This session's django-rq queue on ``redis_url``.

    Plus ``default`` on the same Redis: django-tasks-rq fetches results through
    django-rq's default connection. Nothing is enqueued on it.
    """
    config = {"URL": redis_url, "DEFAULT_TIMEOUT": 60}
    return {queue: config, "default": config}
