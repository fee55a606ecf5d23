"""Django tasks adapter: every task runs in the context it was enqueued in.

For Django 6's ``django.tasks`` and the ``django-tasks`` backport on Django
5.2, with the database backend (``django-tasks-db``), the ImmediateBackend and
the RQ backend (``django-tasks-rq``). Add ``"ctxcarry.adapters.django_tasks"``
to ``INSTALLED_APPS`` in every process (web, ``db_worker``, ``rqworker``), or
call :func:`install` once Django is set up.

Where the carrier travels (see docs/adapters/django-tasks.md for why):

- database backend: a top-level key, :data:`CARRIER_KEY`, of the row's
  ``args_kwargs`` JSON, written by a ``pre_save`` receiver on ``DBTaskResult``;
  ``DBTaskResult.task_result`` reads only ``"args"`` and ``"kwargs"``, so the
  key is invisible to the task, its ``TaskResult`` and a worker without the
  adapter;
- RQ backend: ``job.meta[CARRIER_KEY]``, written when django-tasks-rq's
  ``Job`` is created;
- ImmediateBackend: nothing travels; the task runs in its caller's context,
  which gets back exactly what it had.

The run side restores the context in ``task_started`` and undoes it in
``task_finished``, in the thread that runs the task.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall
from .wire import CARRIER_KEY

__all__ = ["CARRIER_KEY", "install", "is_installed", "uninstall"]
