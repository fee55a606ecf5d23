"""The task framework of this Django: ``django.tasks`` (Django 6+) or the backport."""

from __future__ import annotations

import django

DJANGO_6 = django.VERSION >= (6, 0)

if DJANGO_6:
    from django.tasks import task, task_backends
    from django.tasks.base import TaskResultStatus
else:
    from django_tasks import task, task_backends  # type: ignore[no-redef]
    from django_tasks.base import TaskResultStatus  # type: ignore[no-redef,assignment]

#: The app a Django 5.2 project lists for the backport (none on Django 6).
FRAMEWORK_APPS = [] if DJANGO_6 else ["django_tasks"]
IMMEDIATE_BACKEND = (
    "django.tasks.backends.immediate.ImmediateBackend"
    if DJANGO_6
    else "django_tasks.backends.immediate.ImmediateBackend"
)

__all__ = [
    "DJANGO_6",
    "FRAMEWORK_APPS",
    "IMMEDIATE_BACKEND",
    "TaskResultStatus",
    "task",
    "task_backends",
]
