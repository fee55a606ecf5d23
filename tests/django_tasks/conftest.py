"""Fixtures for the Django tasks adapter tests.

The suite's Django settings (``tests.settings``) are shared with other tests
and are left alone: for this package only, the ``tasks_settings`` fixture
adds the task framework, the database backend, django-rq and the adapter to
``INSTALLED_APPS`` (which runs the adapter's ``AppConfig.ready``) and sets
``TASKS`` and ``RQ_QUEUES``; ``task_table`` creates django-tasks-db's table in
the test database. Workers are the real ones, as subprocesses with
``tests.django_tasks.settings``: ``manage.py db_worker`` on that database and
``manage.py rqworker`` on Redis DB 9 (this area's own), on a queue name that
is this session's own; at the end of the session its Redis keys are deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import override_settings

from tests import services
from tests.django_tasks.backends import rq_queues_setting, tasks_setting
from tests.django_tasks.compat import FRAMEWORK_APPS

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = 9
#: This session's queue (database and rq): concurrent sessions never take each other's tasks.
SESSION_QUEUE = f"djt{uuid.uuid4().hex[:8]}"
WORKER_TIMEOUT = 300  # a guard against a hung worker on a loaded machine, not a timing check


RQ_URL = services.with_db(services.REDIS_URL, REDIS_DB)


@pytest.fixture(scope="package")
def tasks_settings() -> Iterator[None]:
    """The task apps, backends and the adapter, for this package's tests only."""
    from django.conf import settings

    base_apps = list(settings.INSTALLED_APPS)
    extra = [*FRAMEWORK_APPS, "django_tasks_db", "django_rq", "ctxcarry.adapters.django_tasks"]
    backends = override_settings(
        TASKS=tasks_setting(SESSION_QUEUE), RQ_QUEUES=rq_queues_setting(RQ_URL, SESSION_QUEUE)
    )
    backends.enable()
    apps = override_settings(INSTALLED_APPS=base_apps + [a for a in extra if a not in base_apps])
    apps.enable()  # runs every AppConfig.ready: ours installs the adapter
    try:
        yield
    finally:
        from ctxcarry.adapters import django_tasks as adapter

        adapter.uninstall()
        apps.disable()
        backends.disable()


@pytest.fixture(scope="package")
def task_table(
    tasks_settings: None, postgres_available: None, django_db_setup: Any, django_db_blocker: Any
) -> Iterator[str]:
    """django-tasks-db's table in the test database; yields the database's name."""
    from django_tasks_db.models import DBTaskResult

    with django_db_blocker.unblock():
        with connection.schema_editor() as editor:
            editor.create_model(DBTaskResult)
        name = str(connection.settings_dict["NAME"])
    try:
        yield name
    finally:
        with django_db_blocker.unblock(), connection.schema_editor() as editor:
            editor.delete_model(DBTaskResult)


@pytest.fixture
def db_tasks(task_table: str, transactional_db: None) -> str:
    """Committed rows (the worker is another process); emptied after the test."""
    return task_table


@pytest.fixture(scope="package")
def rq_redis(tasks_settings: None, redis_url: str) -> Iterator[str]:
    """Redis DB 9; this session's keys deleted at the end."""
    import redis

    yield RQ_URL
    client = redis.Redis.from_url(RQ_URL)
    for key in client.scan_iter(match=f"*{SESSION_QUEUE}*", count=1000):
        client.delete(key)
    for job_key in list(client.scan_iter(match="rq:job:*", count=1000)):
        origin = client.hget(job_key, "origin")
        if origin is not None and origin.decode() == SESSION_QUEUE:
            job_id = job_key.decode().split(":", 2)[2]
            client.delete(job_key, f"rq:results:{job_id}", f"rq:job:{job_id}:dependents")
    client.srem("rq:queues", f"rq:queue:{SESSION_QUEUE}")
    client.close()


def worker_env(
    database: str,
    *,
    with_adapter: bool = True,
    log_level: str = "INFO",
    raising_receiver: bool = False,
) -> dict[str, str]:
    """The environment of a worker subprocess."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.django_tasks.settings",
        CTXCARRY_DJTASKS_DB_NAME=database,
        CTXCARRY_DJTASKS_QUEUE=SESSION_QUEUE,
        CTXCARRY_DJTASKS_ADAPTER="1" if with_adapter else "0",
        CTXCARRY_DJTASKS_LOG_LEVEL=log_level,
        CTXCARRY_DJTASKS_RAISING="1" if raising_receiver else "0",
        CTXCARRY_REDIS_URL=RQ_URL,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    return env


class WorkerRun:
    """What a worker subprocess printed: its JSON log lines and the rest."""

    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.returncode = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.lines: list[dict[str, Any]] = []
        for line in self.output.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                self.lines.append(record)

    def lines_about(self, task_id: str) -> list[dict[str, Any]]:
        """The log lines whose message names ``task_id``."""
        return [line for line in self.lines if f"id={task_id} " in str(line.get("event"))]


def run_db_worker(
    database: str,
    *,
    with_adapter: bool = True,
    log_level: str = "INFO",
    raising_receiver: bool = False,
) -> WorkerRun:
    """Run ``manage.py db_worker --batch`` on this session's queue until it is empty."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "db_worker",
            "--batch",
            "--no-startup-delay",
            "--interval",
            "0",
            "--queue-name",
            SESSION_QUEUE,
            "--no-reload",
        ],
        env=worker_env(
            database,
            with_adapter=with_adapter,
            log_level=log_level,
            raising_receiver=raising_receiver,
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    run = WorkerRun(completed)
    assert run.returncode == 0, run.output[-4000:]
    return run


def run_rq_worker(
    database: str = "",
    *,
    worker_class: str | None = None,
    with_adapter: bool = True,
    raising_receiver: bool = False,
) -> WorkerRun:
    """Run ``manage.py rqworker --burst`` (django-rq) with django-tasks-rq's job class."""
    command = [
        sys.executable,
        "-m",
        "django",
        "rqworker",
        SESSION_QUEUE,
        "--burst",
        "--job-class",
        "django_tasks_rq.Job",
        "--with-scheduler",
    ]
    if worker_class is not None:
        command += ["--worker-class", worker_class]
    completed = subprocess.run(
        command,
        env=worker_env(database, with_adapter=with_adapter, raising_receiver=raising_receiver),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    run = WorkerRun(completed)
    assert run.returncode == 0, run.output[-4000:]
    return run
