"""Which task frameworks and backends this process has, found without importing the absent.

Django 6 ships ``django.tasks``; the ``django-tasks`` backport provides
``django_tasks`` (Django 5.2, and also on Django 6 when installed, because
django-tasks-rq sends the backport's signals even for Django 6 tasks). Both
are hooked when present. The database backend's model exists only when
``django_tasks_db`` is in ``INSTALLED_APPS``; django-tasks-rq's ``Job`` only
when the package imports (it needs ``django_rq``).
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec
from types import ModuleType
from typing import Any

from django.apps import apps

__all__ = ["database_model", "immediate_backends", "rq_job_class", "signal_modules"]

_FRAMEWORKS = ("django.tasks", "django_tasks")


def _module(name: str) -> ModuleType | None:
    try:
        if find_spec(name) is None:
            return None
        return importlib.import_module(name)
    except Exception:  # a broken or partial install is an absent one
        return None


def _present(package: str) -> bool:
    try:
        return find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def signal_modules() -> list[ModuleType]:
    """The ``signals`` modules of every task framework installed."""
    found = []
    for package in _FRAMEWORKS:
        if _present(package):
            module = _module(package + ".signals")
            if module is not None:
                found.append(module)
    return found


def immediate_backends() -> tuple[type[Any], ...]:
    """Every ImmediateBackend class (tasks that run inline, in the caller's context)."""
    found = []
    for package in _FRAMEWORKS:
        if _present(package):
            module = _module(package + ".backends.immediate")
            backend = getattr(module, "ImmediateBackend", None)
            if isinstance(backend, type):
                found.append(backend)
    return tuple(found)


def database_model() -> type[Any] | None:
    """django-tasks-db's ``DBTaskResult`` when ``django_tasks_db`` is an installed app."""
    if not apps.is_installed("django_tasks_db"):
        return None
    module = _module("django_tasks_db.models")
    model = getattr(module, "DBTaskResult", None)
    return model if isinstance(model, type) else None


def rq_job_class() -> type[Any] | None:
    """django-tasks-rq's ``Job`` when django-tasks-rq is installed and imports."""
    if not _present("django_tasks_rq"):
        return None
    module = _module("django_tasks_rq")
    job = getattr(module, "Job", None)
    return job if isinstance(job, type) else None
