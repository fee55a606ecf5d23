"""Run side: restore the carried context around each task, undo it exactly afterwards.

``task_started`` and ``task_finished`` are sent in the thread that runs the
task: db_worker's only thread, the rq work horse (or a SimpleWorker's own
thread), and the caller's thread for the ImmediateBackend (also under
``aenqueue``, in asgiref's thread). :func:`on_task_started` opens the task's
scope and binds its identity; :func:`on_task_finished` closes it, so the next
task on the same thread starts clean and what the task bound itself is undone.

Where the carrier is, per backend:

- database backend: the ``TaskResult`` has ``db_result``, the row, whose
  ``args_kwargs`` holds the carrier;
- RQ backend: django-tasks-rq's ``Job.perform`` sends ``task_started`` before
  rq's own ``perform`` makes the job current, so :func:`wrap_perform` marks
  the job being performed and the carrier is read from its ``meta``;
- ImmediateBackend: the task runs in its caller's context; a guard scope
  restores nothing and only undoes what the task binds;
- any other backend: left alone (nothing says where or how it runs).

Receivers never raise (a raising ``task_finished`` receiver turns a
successful task FAILED and can kill db_worker), ``task_finished`` may come
twice (db_worker resends it when a receiver raised), and a receiver connected
before ours that raises can keep ours from running. So the store is keyed by
the task result id (each signal gets a new ``TaskResult``), closing is
idempotent, and a worker scope left open by a lost ``task_finished`` is closed
before the next task starts on that thread.

OpenTelemetry: no instrumentation starts a span for these tasks; the carried
trace context is attached when no span is active
(``restore_trace="if_no_active_span"``), so a span someone else started for
the task stays the parent.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from ctxcarry.kit import ScopeStore, guard_scope, never_raises, task_identity

from . import state
from .wire import read_carrier

__all__ = ["on_task_finished", "on_task_started", "wrap_perform"]

logger = logging.getLogger("ctxcarry")

_scopes = ScopeStore()

#: The worker-run task (not an inline one) whose scope is open on this thread.
_open = threading.local()

#: The django-tasks-rq job whose ``perform`` is running here.
_performing_rq_job: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "ctxcarry_django_tasks_rq_job", default=None
)


def wrap_perform(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap django-tasks-rq's ``Job.perform`` to mark the job being performed."""

    @functools.wraps(original)
    def perform(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _performing_rq_job.set(self)
        try:
            return original(self, *args, **kwargs)
        finally:
            _performing_rq_job.reset(token)

    return perform


def _carrier_source(
    sender: object, task_result: Any, current: state.State
) -> tuple[bool, object] | None:
    """``(inline, raw carrier)`` for a task we restore, else ``None``."""
    db_result = getattr(task_result, "db_result", None)
    if db_result is not None:
        return False, read_carrier(getattr(db_result, "args_kwargs", None))
    job = _performing_rq_job.get()
    if job is not None and getattr(job, "id", None) == task_result.id:
        return False, read_carrier(getattr(job, "meta", None))
    if isinstance(sender, type) and issubclass(sender, current.inline_backends):
        return True, None
    return None


def _close_stale() -> None:
    """Close a worker scope whose ``task_finished`` never reached us, before the next task."""
    stale_id = getattr(_open, "task_id", None)
    if stale_id is None:
        return
    _open.task_id = None
    scope = _scopes.pop(stale_id)
    if scope is not None:
        scope.exit()
        logger.warning(
            "ctxcarry: task_finished for task %s did not reach ctxcarry (an earlier receiver "
            "raised?); its context was undone before the next task",
            stale_id,
        )


@never_raises("django tasks task_started")
def on_task_started(sender: object = None, task_result: Any = None, **_: Any) -> None:
    """``task_started`` receiver: open the task's scope and bind its identity.

    A carrier that cannot be used leaves the task running without it (one
    warning names the problem); a strict Carrier's error is logged.
    """
    current = state.active()
    if current is None or task_result is None:
        return
    source = _carrier_source(sender, task_result, current)
    if source is None:
        return
    inline, raw = source
    task_id = task_result.id
    if inline:
        scope = guard_scope()
    else:
        _close_stale()
        scope = current.installation.carrier.extract(raw, restore_trace="if_no_active_span")
    previous = _scopes.pop(task_id)  # the same task started again without finishing
    if previous is not None:
        previous.exit()
    identity = (
        task_identity(task_id=task_id, task_name=task_result.task.module_path)
        if current.bind_identity
        else None
    )
    scope.enter(bind=identity)
    _scopes.put(task_id, scope)
    if not inline:
        _open.task_id = task_id


@never_raises("django tasks task_finished")
def on_task_finished(sender: object = None, task_result: Any = None, **_: Any) -> None:
    """``task_finished`` receiver: undo what ``task_started`` restored, exactly; idempotent."""
    if task_result is None:
        return
    task_id = task_result.id
    if getattr(_open, "task_id", None) == task_id:
        _open.task_id = None
    scope = _scopes.pop(task_id)
    if scope is not None:
        scope.exit()
