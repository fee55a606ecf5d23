"""Run side: restore the carried context around a task's whole lifecycle.

``task_prerun`` and ``task_postrun`` run in the slot that executes the task
(the prefork child, a pool thread, the solo worker thread, a gevent greenlet,
or the caller's thread in eager mode), in the same Context, and around
everything Celery does for the task: the body, the next chain step and the
chord body it publishes, the result. What prerun restores is undone exactly in
postrun, including what the task body bound itself. The open scope is kept on
the task's request object, never on a shared one.

OpenTelemetry: when ``opentelemetry-instrumentation-celery`` is active, the
task span is its job: its ``run/<task>`` span must be the parent of the spans
in the task body, so the carried trace context is not attached (the
instrumentor reads its own ``traceparent`` header). Without it, the carried
trace context is attached when no span is active. The scope moves the OTel
context only when it attached one itself, so it nests correctly with the
instrumentor's receivers in either connection order.
"""

from __future__ import annotations

import sys
from typing import Any

from ctxcarry import TraceRestore
from ctxcarry.kit import (
    ScopeStore,
    enter_task_scope,
    guard_scope,
    never_raises,
    task_identity,
)

from .registry import installation_for
from .wire import read_carrier

__all__ = ["on_task_postrun", "on_task_prerun"]

_INSTRUMENTOR_MODULE = "opentelemetry.instrumentation.celery"
_scopes = ScopeStore()


def celery_instrumentor_active() -> bool:
    """True when ``opentelemetry-instrumentation-celery`` is instrumenting this process."""
    module = sys.modules.get(_INSTRUMENTOR_MODULE)
    if module is None:
        return False
    try:
        return bool(module.CeleryInstrumentor().is_instrumented_by_opentelemetry)
    except Exception:
        return False


@never_raises("Celery task_prerun")
def on_task_prerun(task: Any = None, **_: Any) -> None:
    """``task_prerun`` receiver: restore the context carried by the task's message.

    An eager run without a carrier already runs in the caller's context: it
    restores nothing, but what the body binds is still undone, so the caller's
    context is exactly intact afterwards. A carrier that cannot be used (or a
    strict Carrier's error, logged) leaves the task running without it, and
    what the task binds is still undone. The
    task's id, name and parent id are bound for its duration (unless
    installed with ``task_identity=False``).
    """
    if task is None:
        return
    installation = installation_for(task.app)
    if installation is None:
        return
    request = task.request
    raw = read_carrier(request)
    identity = (
        task_identity(task_id=request.id, task_name=task.name, parent_task_id=request.parent_id)
        if installation.task_identity
        else None
    )
    if raw is None and request.is_eager:
        scope = guard_scope()
        scope.enter(bind=identity)
    else:
        policy: TraceRestore = "never" if celery_instrumentor_active() else "if_no_active_span"
        scope = enter_task_scope(
            installation.carrier, raw, restore_trace=policy, task=request.id, identity=identity
        )
    _scopes.put(request, scope)


@never_raises("Celery task_postrun")
def on_task_postrun(task: Any = None, **_: Any) -> None:
    """``task_postrun`` receiver: undo what prerun restored, exactly."""
    if task is None:
        return
    scope = _scopes.pop(task.request)
    if scope is not None:
        scope.exit()
