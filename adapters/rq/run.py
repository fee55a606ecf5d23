"""Run side: each job runs inside the context it was enqueued in, then nothing is left.

The scope opens at the start of ``perform_job`` and closes at its end. rq
calls ``perform_job`` in the process that runs the job -- the forked (or, on
rq 3, spawned) work horse of a ``Worker``, the worker process itself for a
``SimpleWorker`` -- and never in a forking worker's parent, so nothing is
ever restored there (the parent's context is copied into every later horse).
``perform_job`` covers everything rq does for one job: its bookkeeping, the
function (sync or ``async def``, which rq runs with ``asyncio.run`` in the
same thread), the success/failure callback, the result, releasing the
dependents, retries and rq's own log lines about the job ("Job OK",
"Successfully completed ..."). The exit is exact: whatever the job bound is
undone, so the next job on a SimpleWorker starts clean.

``Queue(is_async=False)`` runs the job in the caller (``Queue.run_sync``);
there the scope is a guard: it restores nothing (the job already sees the
caller's context) and undoes what the job binds.

OpenTelemetry: the carried trace context is attached only when no span is
active (``restore_trace="if_no_active_span"``), so a consumer span that
opentelemetry-instrumentation-rq (or anything else) started around the job
stays the current span.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from ctxcarry import CarrierError, Extraction
from ctxcarry.kit import bind_task_identity, guard_scope

from .state import STATE, active_installation, running_job
from .wire import parent_job_id, read_carrier

__all__ = ["JobRun", "close_job", "open_job"]

_logger = logging.getLogger("ctxcarry")


class JobRun:
    """One job's open scope, and the token that marks the job as running here."""

    __slots__ = ("scope", "token")

    def __init__(self, scope: Extraction, token: Any) -> None:
        self.scope = scope
        self.token = token


def open_job(job: Any, *, inline: bool) -> JobRun | None:
    """Open ``job``'s scope in this thread; ``None`` when there is nothing to do.

    ``inline`` is for ``is_async=False`` runs in the caller. Never raises: a
    carrier that cannot be used (or a strict Carrier's error) leaves the job
    running without it, still undone exactly afterwards.
    """
    try:
        installation = active_installation()
        if installation is None or running_job.get() is job:
            return None  # not installed, or an outer wrapper already opened this job
        return _open(installation.carrier, job, inline)
    except Exception:
        _logger.exception("ctxcarry: rq perform_job (before the job) failed; the job goes on")
        return None


def _open(carrier: Any, job: Any, inline: bool) -> JobRun:
    caller = running_job.get()
    raw: object = None
    if inline:
        scope = guard_scope()
        scope.enter()
    else:
        _import_function(job)
        try:
            raw = read_carrier(job)
            scope = carrier.extract(raw, restore_trace="if_no_active_span")
            scope.enter()
        except Exception as exc:  # a strict Carrier, or meta that refuses to be read
            _logger.warning(
                "ctxcarry: rq job %s runs without its carrier: %s", _job_id(job), _describe(exc)
            )
            raw = None
            scope = guard_scope()
            scope.enter()
    token = running_job.set(job)
    try:
        if STATE.task_identity:
            parent = caller.id if inline and caller is not None else parent_job_id(raw)
            bind_task_identity(task_id=job.id, task_name=job.func_name, parent_task_id=parent)
    except BaseException:
        running_job.reset(token)
        scope.exit()
        raise
    return JobRun(scope, token)


def close_job(run: JobRun) -> None:
    """Undo what :func:`open_job` restored, and what the job bound. Never raises."""
    try:
        running_job.reset(run.token)
    except Exception:
        _logger.exception("ctxcarry: rq perform_job (after the job) failed")
    finally:
        run.scope.exit()


def _import_function(job: Any) -> None:
    """Import the job's function, so that the QueueVars its modules declare are registered.

    A worker imports a job's module only when it runs the job, which is after
    the restore: a QueueVar declared there would be "not registered in this process" in
    a fresh work horse. A function that cannot be imported is rq's to report
    when it runs the job.
    """
    with contextlib.suppress(Exception):
        module = job.func_name.rpartition(".")[0]
        if module not in sys.modules:  # else already imported: skip rq's import_attribute
            job.func  # noqa: B018 - the property imports the module


def _job_id(job: Any) -> str:
    try:
        return ascii(job.id)[:80]
    except Exception:
        return "<unknown>"


def _describe(exc: BaseException) -> str:
    """A strict Carrier's error lists what it refused; anything else is named by its type."""
    if isinstance(exc, CarrierError):
        return str(exc)[:1000]
    return type(exc).__name__
