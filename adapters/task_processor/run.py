"""Run side: the task function runs in the task's context, the runner stays clean.

flagsmith-common runs each task through three places, patched by ``install()``:

* ``task_processor.processor._run_task`` (the long-lived runner thread):
  :func:`wrap_run_task` restores the task's carrier around it, so the
  processor's own log lines for the task carry the task's context, and puts
  the runner back exactly afterwards. The trace is left to upstream, which
  starts the task span with the carried parent and attaches it.
* ``task_processor.processor.ThreadPoolExecutor`` (a new pool per task):
  replaced by :class:`ctxcarry.ContextThreadPoolExecutor`, so the function runs
  in a copy of the runner's context: the restored bindings and QueueVars, and
  the processor's span as current span.
* ``AbstractBaseTask.run``: :func:`wrap_task_run` restores the carrier when the
  row is run anywhere else (``task.run()`` called directly), with
  ``restore_trace="if_no_active_span"`` so an active span stays the parent.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ctxcarry import CarrierError
from ctxcarry.kit import checked_trace_headers, task_identity, trace_fields

from . import config

__all__ = ["run_delay_in_copy", "wrap_run_task", "wrap_task_run"]

R = TypeVar("R")

#: The task whose carrier the runner thread restored (copied into its pool thread).
_restored_task: contextvars.ContextVar[object] = contextvars.ContextVar(
    "ctxcarry_task_processor_restored_task", default=None
)


def wrap_run_task(original: Callable[..., R]) -> Callable[..., R]:
    """Wrap ``processor._run_task`` so the runner runs each task in its context."""

    @functools.wraps(original)
    def run_task_in_its_context(task: Any, *args: Any, **kwargs: Any) -> R:
        scope = config.installation.carrier.extract(
            getattr(task, "trace_context", None), restore_trace="never"
        )
        identity = (
            task_identity(
                task_id=getattr(task, "uuid", None),
                task_name=getattr(task, "task_identifier", None),
            )
            if config.installation.task_identity
            else None
        )
        try:
            scope.enter(bind=identity)
        except CarrierError:
            # Strict Carrier: run without it; the task's own run() raises, so the
            # task fails visibly (and is recorded) instead of staying locked.
            return _run_with_safe_trace_fields(original, task, args, kwargs)
        token = _restored_task.set(task)
        try:
            return _run_with_safe_trace_fields(original, task, args, kwargs)
        finally:
            _restored_task.reset(token)
            scope.exit()

    return run_task_in_its_context


def _run_with_safe_trace_fields(
    original: Callable[..., R], task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> R:
    """Let upstream read only trace fields that cannot make OpenTelemetry raise.

    Upstream hands ``trace_context`` to ``propagate.extract`` before its own
    ``try``: a malformed row (a list, a number for ``traceparent``) would raise
    there, no TaskRun would be recorded and the row would stay locked. Whatever
    the Carrier's settings, upstream sees the row with only the fields the
    core's checks accept, for this run; the row in the database is unchanged
    (the processor writes back other columns only).
    """
    raw = getattr(task, "trace_context", None)
    safe = _safe_for_upstream(raw)
    if safe is raw:
        return original(task, *args, **kwargs)
    task.trace_context = safe
    try:
        return original(task, *args, **kwargs)
    finally:
        task.trace_context = raw


def _safe_for_upstream(raw: object) -> object:
    """``raw`` itself when its trace fields are all safe, else a cleaned copy."""
    if raw is None:
        return None
    checked = checked_trace_headers(raw)
    if not isinstance(raw, dict):
        return checked or None
    fields = trace_fields()
    if all(raw[field] is checked.get(field) for field in fields if field in raw):
        return raw
    cleaned = {key: value for key, value in raw.items() if key not in fields}
    cleaned.update(checked)
    return cleaned


def wrap_task_run(original: Callable[[Any], R]) -> Callable[[Any], R]:
    """Wrap ``AbstractBaseTask.run`` so the function sees the row's carried context."""

    @functools.wraps(original)
    def run_in_task_context(self: Any) -> R:
        if _restored_task.get() is self:
            return original(self)  # the runner already restored this very row
        with config.installation.carrier.extract(
            getattr(self, "trace_context", None), restore_trace="if_no_active_span"
        ):
            return original(self)

    return run_in_task_context


def run_delay_in_copy(original: Callable[..., R]) -> Callable[..., R]:
    """Wrap ``TaskHandler.delay`` to run in a copy of the caller's context.

    With ``TASK_RUN_METHOD = "SYNCHRONOUSLY"`` the function runs inline: it sees
    everything the caller bound, and whatever it binds itself stays out of the
    caller, as with the other run methods. For the other methods the copy is
    equal to the caller's context, so enqueueing is unchanged.
    """

    @functools.wraps(original)
    def delay_in_copy(*args: Any, **kwargs: Any) -> R:
        return contextvars.copy_context().run(original, *args, **kwargs)

    return delay_in_copy
