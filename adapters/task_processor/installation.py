"""``install()`` / ``uninstall()``: put the hooks in place, and take them out exactly.

Every patch replaces one attribute where flagsmith-common looks it up at call
time (a module global or a class attribute), and remembers the original so
``uninstall()`` restores the very same object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ctxcarry import Carrier, ContextThread, ContextThreadPoolExecutor

from .compat import require_supported_upstream
from .config import set_carrier
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


def install(carrier: Carrier | None = None) -> None:
    """Hook ctxcarry into flagsmith-common's task processor (idempotent, thread-safe).

    ``carrier`` is used for every enqueue and run; ``None`` keeps the one given
    to an earlier ``install()`` or follows :func:`ctxcarry.get_default_carrier`.
    Needs Django's app registry (call it from ``AppConfig.ready`` or later);
    listing ``"ctxcarry.adapters.task_processor"`` in ``INSTALLED_APPS`` does it.
    """
    require_supported_upstream()
    from django.db.models.signals import pre_save
    from task_processor import decorators, models, processor

    with _lock:
        if carrier is not None:
            set_carrier(carrier)
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
        set_carrier(None)


def is_installed() -> bool:
    """True between ``install()`` and ``uninstall()``."""
    return bool(_applied)
