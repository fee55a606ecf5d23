"""``install()`` / ``uninstall()``: put the hooks in place, and take them out exactly.

Every patch replaces one attribute where flagsmith-common looks it up at call
time (a module global or a class attribute), and remembers the original so
``uninstall()`` restores the very same object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ctxcarry import Carrier, ContextThread, ContextThreadPoolExecutor
from ctxcarry.kit import import_queuevar_modules

from . import config
from .compat import require_supported_upstream
from .enqueue import stamp_new_task
from .run import run_delay_in_copy, wrap_run_task, wrap_task_run

__all__ = ["install", "is_installed", "uninstall"]

_DISPATCH_UID = "ctxcarry.adapters.task_processor.stamp_new_task"
_lock = threading.Lock()


@dataclass(frozen=True)
class _Patch:
    owner: Any
    name: str
    original: Any


_applied: list[_Patch] = []


def _patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    original = vars(owner)[name]  # defined right there, not inherited
    setattr(owner, name, make(original))
    _applied.append(_Patch(owner, name, original))


def install(
    carrier: Carrier | None = None,
    *,
    queuevars: Iterable[str] = (),
    task_identity: bool | None = None,
) -> None:
    """Hook ctxcarry into flagsmith-common's task processor (idempotent, thread-safe).

    ``carrier`` is used for every enqueue and run. Without one the adapter
    follows :func:`ctxcarry.get_default_carrier` (read at each use); installing
    again with a Carrier replaces it, without one (as ``AppConfig.ready``
    does) changes nothing; :func:`uninstall` forgets it. ``task_identity`` (on
    by default) binds each task's ``task_id`` (its uuid) and ``task_name`` (its
    identifier) for the run; they are never carried onward. ``queuevars``
    names modules defining QueueVars to import now (with the app installed,
    every installed app's ``queuevars`` module is imported already).
    Needs Django's app registry (call it from ``AppConfig.ready`` or later);
    listing ``"ctxcarry.adapters.task_processor"`` in ``INSTALLED_APPS`` does it.
    """
    require_supported_upstream()
    # Imported here, not at module level: Django models exist only once the app
    # registry is ready, and importing this package must not need it.
    from django.db.models.signals import pre_save
    from task_processor import decorators, models, processor

    import_queuevar_modules(queuevars)
    with _lock:
        config.installation.configure(carrier, task_identity=task_identity)
        if _applied:
            return
        _patch(processor, "_run_task", wrap_run_task)
        _patch(processor, "ThreadPoolExecutor", lambda _: ContextThreadPoolExecutor)
        _patch(models.AbstractBaseTask, "run", wrap_task_run)
        _patch(decorators, "Thread", lambda _: ContextThread)
        _patch(decorators.TaskHandler, "delay", run_delay_in_copy)
        pre_save.connect(stamp_new_task, sender=models.Task, weak=False, dispatch_uid=_DISPATCH_UID)


def uninstall() -> None:
    """Remove every hook and restore each patched attribute to its original object."""
    from django.db.models.signals import pre_save
    from task_processor import models

    with _lock:
        pre_save.disconnect(sender=models.Task, dispatch_uid=_DISPATCH_UID)
        while _applied:
            patch = _applied.pop()
            setattr(patch.owner, patch.name, patch.original)
        config.reset()


def is_installed() -> bool:
    """True between ``install()`` and ``uninstall()``."""
    return bool(_applied)
