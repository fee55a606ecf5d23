"""A foreign ``task_finished`` receiver that raises, connected before the adapter's.

Listed before ``ctxcarry.adapters.django_tasks`` in the worker's INSTALLED_APPS
(``CTXCARRY_DJTASKS_RAISING=1``), so ``Signal.send`` stops at it and never
reaches ours: for a task labelled ``raise-once`` only on the SUCCESSFUL send
(db_worker then marks the task FAILED and sends again), for ``raise-always``
on every send (an rq SimpleWorker then fails the job and goes on).
"""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import AppConfig


def raise_for_marked_tasks(sender: object, task_result: Any, **_: Any) -> None:
    label = task_result.args[0] if task_result.args else None
    if label == "raise-always" or (label == "raise-once" and task_result.status == "SUCCESSFUL"):
        raise RuntimeError(f"a foreign task_finished receiver raised for {label}")


class RaisingReceiversConfig(AppConfig):
    name = "tests.django_tasks"
    label = "djt_raising_receivers"

    def ready(self) -> None:
        for module in ("django.tasks.signals", "django_tasks.signals"):
            try:
                signals = importlib.import_module(module)
            except ImportError:
                continue
            signals.task_finished.connect(raise_for_marked_tasks, weak=False)
