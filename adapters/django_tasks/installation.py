"""``install()`` / ``uninstall()``: the receivers and the two django-tasks-rq wrappers.

Receivers are connected strongly (``weak=False`` with a ``dispatch_uid``: a
weakly held receiver can be garbage-collected and silently disconnected), to
the signals of every task framework present (Django 6's ``django.tasks`` and
the ``django_tasks`` backport, whose signals django-tasks-rq sends even for
Django 6 tasks). The framework's own "Task ... state=RUNNING" log receiver is
moved after ours, so that line carries the task's context and identity; its
"finished" line already runs before our undo.

Each patch replaces one attribute of django-tasks-rq's ``Job`` and remembers
what was there, so ``uninstall()`` restores the very same object.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import pre_save

from ctxcarry import Carrier
from ctxcarry.kit import Installation

from . import frameworks, state
from .enqueue import stamp_new_row, wrap_create
from .run import on_task_finished, on_task_started, wrap_perform

__all__ = ["install", "is_installed", "uninstall"]

_UID = "ctxcarry.adapters.django_tasks"
_lock = threading.Lock()


@dataclass(frozen=True)
class _Patch:
    owner: type[Any]
    name: str
    original: Any
    own: bool  # defined on ``owner`` itself (else inherited: uninstall deletes ours)


_patches: list[_Patch] = []
_signals: list[Any] = []
_models: list[type[Any]] = []


def _patch(owner: type[Any], name: str, make: Callable[[Any], Any]) -> None:
    original = inspect.getattr_static(owner, name)
    own = name in vars(owner)
    setattr(owner, name, make(original))
    _patches.append(_Patch(owner, name, original, own))


def _connect(signal: Any, receiver: Callable[..., Any]) -> None:
    signal.connect(receiver, weak=False, dispatch_uid=_UID)
    _signals.append(signal)


def _move_after_ours(signal: Any, receiver: object) -> None:
    """Reconnect the framework's own ``receiver`` so it runs after ours."""
    if callable(receiver) and signal.disconnect(receiver):
        signal.connect(receiver)


def install(carrier: Carrier | None = None, *, bind_identity: bool | None = None) -> None:
    """Carry context with every Django task of this process. Idempotent, thread-safe.

    ``carrier`` configures what travels and the limits. Without one the
    adapter follows the default Carrier (``ctxcarry.get_default_carrier()``,
    read at each use). Installing again with a Carrier replaces it; without one
    (as ``AppConfig.ready`` does) changes nothing; :func:`uninstall` forgets it.
    ``bind_identity=False`` stops binding ``task_id`` and ``task_name``
    (the task result id and the task's module path) for each task; ``None``
    keeps the current choice (bound by default).

    Needs Django's app registry (call it from ``AppConfig.ready`` or later);
    listing ``"ctxcarry.adapters.django_tasks"`` in ``INSTALLED_APPS`` does it.
    """
    with _lock:
        current = state.current
        if current is not None:
            current.installation.configure(carrier)
            if bind_identity is not None:
                current.bind_identity = bind_identity
            return
        state.current = state.State(
            installation=Installation(carrier),
            bind_identity=True if bind_identity is None else bind_identity,
            inline_backends=frameworks.immediate_backends(),
        )
        for module in frameworks.signal_modules():
            _connect(module.task_started, on_task_started)
            _connect(module.task_finished, on_task_finished)
            _move_after_ours(module.task_started, getattr(module, "log_task_started", None))
        model = frameworks.database_model()
        if model is not None:
            pre_save.connect(stamp_new_row, sender=model, weak=False, dispatch_uid=_UID)
            _models.append(model)
        job_class = frameworks.rq_job_class()
        if job_class is not None:
            _patch(job_class, "create", wrap_create)
            _patch(job_class, "perform", wrap_perform)


def uninstall() -> None:
    """Disconnect every receiver and restore each patched attribute; a no-op if not installed."""
    with _lock:
        current = state.current
        if current is None:
            return
        current.installation.active = False
        state.current = None
        while _signals:
            _signals.pop().disconnect(dispatch_uid=_UID)
        while _models:
            pre_save.disconnect(sender=_models.pop(), dispatch_uid=_UID)
        while _patches:
            patch = _patches.pop()
            if patch.own:
                setattr(patch.owner, patch.name, patch.original)
            else:
                delattr(patch.owner, patch.name)


def is_installed() -> bool:
    """True between :func:`install` and :func:`uninstall`."""
    return state.current is not None
