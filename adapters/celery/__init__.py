"""Celery adapter: every task of an app runs in the context it was enqueued in.

Call ``install(app)`` in the module that both the publishing processes (web,
beat) and the worker import. It connects three Celery signals once per process
and marks the app, so only that app's tasks are affected:

- ``before_task_publish`` writes the current context into one message header,
  :data:`HEADER` (``"ctxcarry"``), and turns the ``priority`` QueueVar into the
  message priority when the caller gave none;
- ``task_prerun`` restores the carried context in the slot that runs the task;
- ``task_postrun`` undoes it exactly, so the next task starts clean.

See ``docs/adapters/celery.md``.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall
from .wire import HEADER

__all__ = ["HEADER", "install", "is_installed", "uninstall"]
