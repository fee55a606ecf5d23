"""The demo on Django tasks: the database backend, a temporary SQLite file, db_worker's loop.

The module configures Django itself (``settings.configure`` and
``django.setup``), with django-tasks-db's ``DatabaseBackend`` on a SQLite file
in a temporary directory, migrated when the demo starts and deleted when it
ends; so it refuses to run in a process where Django is already configured.
The worker is django-tasks-db's own ``Worker`` (what ``manage.py db_worker``
runs) in a thread of this process, on a queue of its own. Not the
``ImmediateBackend``: it runs a task inline, in its caller's context, which
the "without ctxcarry" pass would then see anyway.

Django tasks has no retries, so ``export`` runs once
(``journey.EXPECTED_RUNS_WITHOUT_RETRY``). The adapter is installed by its
app, ``ctxcarry.adapters.django_tasks`` in ``INSTALLED_APPS``, as in a project.

Django is imported when the demo queue is opened, never when this module is:
no module of the ctxcarry package imports a framework at import time.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import journey
from . import DemoError, MissingExtra

__all__ = ["DjangoTasksDemo", "open_queue"]

#: How long the worker sleeps when its queue is empty (s); db_worker's default is 1 s.
POLL_INTERVAL = 0.05
#: Longest wait for the worker thread to finish its current task (s).
STOP_TIMEOUT = 5.0
_QUEUE_NAME = f"ctxcarry-demo-{uuid.uuid4().hex[:12]}"
_LOGGERS = ("django_tasks", "django_tasks_db")


# The worker finds a task by its import path: these names become Tasks (see _define_tasks).
def notify(report: str) -> None:
    journey.notify(report)


def build_report(report: str) -> None:
    journey.build_report(report, lambda name: _task("notify").enqueue(name))


def export(report: str) -> None:
    journey.export(report, None)


def housekeeping() -> None:
    journey.housekeeping()


_TASK_NAMES = ("notify", "build_report", "export", "housekeeping")


def _task(name: str) -> Any:
    """The Task bound to ``name`` in this module (after :func:`_define_tasks`)."""
    return globals()[name]


def _define_tasks() -> None:
    """Turn the functions above into Tasks, as ``@task`` would have done at import.

    ``@task`` needs Django's settings, which this module only configures when
    the demo runs; so the Tasks replace the functions under the same names,
    the import path the worker resolves.
    """
    from django_tasks import task

    for name in _TASK_NAMES:
        globals()[name] = task(queue_name=_QUEUE_NAME)(globals()[name])


def _configure_django(database: Path) -> None:
    """Configure and set up Django for the demo alone: one app list, one SQLite file."""
    import django
    from django.conf import settings

    try:
        from django_tasks_db import DatabaseBackend
    except ModuleNotFoundError:  # not in the django-tasks extra: the backend is the user's choice
        raise MissingExtra(
            "the demo on django-tasks needs django-tasks-db, the database backend: "
            'pip install "./ctxcarry[demo,django-tasks]" django-tasks-db '
            "from the folder holding a clone"
        ) from None
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if module or settings.configured:
        where = f"DJANGO_SETTINGS_MODULE is {module}" if module else "Django is configured"
        raise DemoError(
            f"the django-tasks demo configures Django itself, but {where}: "
            f"run it in a process of its own, without DJANGO_SETTINGS_MODULE"
        )
    settings.configure(
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)},
        },
        INSTALLED_APPS=["django_tasks", "django_tasks_db", "ctxcarry.adapters.django_tasks"],
        TASKS={
            "default": {
                "BACKEND": f"{DatabaseBackend.__module__}.{DatabaseBackend.__qualname__}",
                "QUEUES": [_QUEUE_NAME],
            }
        },
        USE_TZ=True,
        LOGGING_CONFIG=None,  # the demo's logging stays as it is
    )
    django.setup()


class DjangoTasksDemo:
    """The journey on Django tasks, run by django-tasks-db's worker in a thread."""

    expected_runs = journey.EXPECTED_RUNS_WITHOUT_RETRY

    def __init__(self, broker: str) -> None:
        if broker:
            raise DemoError(
                "the django-tasks demo runs on a temporary SQLite database: leave out --broker"
            )
        self.description = "Django tasks (django-tasks-db's worker in a thread, SQLite)"
        self._directory = tempfile.TemporaryDirectory(prefix="ctxcarry-demo-")
        database = Path(self._directory.name) / "tasks.sqlite3"
        #: Shown by the demo's first and last lines: where the tasks wait.
        self.broker = f"sqlite:///{database}"
        try:
            _configure_django(database)
            _define_tasks()
        except BaseException:
            self._directory.cleanup()
            raise
        from django import db

        from ctxcarry.adapters import django_tasks as adapter  # type: ignore[attr-defined, import-not-found, unused-ignore]

        self._db, self._adapter = db, adapter
        self._worker: Any = None

    def check_broker(self) -> None:
        return None  # a local file: always there

    def enqueue_for_request(self, report: str) -> None:
        try:
            _task("build_report").enqueue(report)
            _task("export").enqueue(report)
        finally:
            self._db.connection.close()  # this thread's: the web's threads come and go

    def enqueue_unrelated(self) -> None:
        _task("housekeeping").enqueue()

    def adapter_installed(self, installed: bool) -> None:
        if installed:
            self._adapter.install()
        else:
            self._adapter.uninstall()

    def _work(self) -> None:
        try:
            self._worker.run()
        finally:
            self._db.connection.close()

    @contextmanager
    def running(self) -> Iterator[None]:
        from django.core.management import call_command
        from django_tasks_db.management.commands.db_worker import Worker

        saved_levels = {name: logging.getLogger(name).level for name in _LOGGERS}
        for name in _LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)  # its own lines are not news
        try:
            call_command("migrate", verbosity=0, interactive=False)
            self._worker = Worker(
                queue_names=[_QUEUE_NAME],
                interval=POLL_INTERVAL,
                batch=False,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=_QUEUE_NAME,
                excluded_queue_names=[],
            )
            thread = threading.Thread(target=self._work, name="ctxcarry-demo-django-tasks")
            thread.start()
            try:
                yield
            finally:
                self._worker.running = False
                thread.join(STOP_TIMEOUT)
        finally:
            self._adapter.uninstall()
            self._db.connections.close_all()
            for name, level in saved_levels.items():
                logging.getLogger(name).setLevel(level)
            self._directory.cleanup()


def open_queue(broker: str) -> DjangoTasksDemo:
    """The demo queue on Django tasks (the ``--queue django-tasks`` entry point)."""
    return DjangoTasksDemo(broker)
