"""Run side: restore the carried context around a task's whole lifecycle.

``task_prerun`` and ``task_postrun`` run in the slot that executes the task
(the prefork child, a pool thread, the solo worker thread, a gevent greenlet,
or the caller's thread in eager mode), in the same Context, and around
everything Celery does for the task: the body, the next chain step and the
chord body it publishes, the result. What prerun restores is undone exactly in
postrun, including what the task body bound itself.

The bookkeeping lives on the task's request object, never on a shared object.

OpenTelemetry: when ``opentelemetry-instrumentation-celery`` is active, the
task span is its job: its ``run/<task>`` span must be the parent of the spans
in the task body, so the carried trace context is not attached (the
instrumentor reads its own ``traceparent`` header). Without it, the carried
trace context is attached when no span is active. The adapter never moves the
OTel context unless it attached one itself, so it nests correctly with the
instrumentor's receivers in either connection order.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

from opentelemetry import context as otel_context

from ctxcarry import Carrier, Extraction, TraceRestore

from .installation import installation_for
from .wire import read_carrier

__all__ = ["on_task_postrun", "on_task_prerun"]

logger = logging.getLogger("ctxcarry")

#: The attribute of ``task.request`` that holds what prerun restored.
REQUEST_ATTRIBUTE = "_ctxcarry_restored"

_INSTRUMENTOR_MODULE = "opentelemetry.instrumentation.celery"


class Restored:
    """One task's active extraction, and whether it attached the OTel context."""

    __slots__ = ("attached_trace", "extraction")

    def __init__(self, extraction: Extraction, attached_trace: bool) -> None:
        self.extraction = extraction
        self.attached_trace = attached_trace


def celery_instrumentor_active() -> bool:
    """True when ``opentelemetry-instrumentation-celery`` is instrumenting this process."""
    module = sys.modules.get(_INSTRUMENTOR_MODULE)
    if module is None:
        return False
    try:
        return bool(module.CeleryInstrumentor().is_instrumented_by_opentelemetry)
    except Exception:
        return False


@functools.lru_cache(maxsize=16)
def _guard_only(carrier: Carrier) -> Carrier:
    """A Carrier that restores nothing; its extraction only snapshots and undoes."""
    return carrier.replace(carry_queuevars=False, carry_structlog=False, carry_trace=False)


def on_task_prerun(task: Any = None, **_: Any) -> None:
    """``task_prerun`` receiver: restore the context carried by the task's message.

    An eager run without a carrier already runs in the caller's context: it
    restores nothing, but what the body binds is still undone, so the caller's
    context is exactly intact afterwards. Never raises: a carrier that cannot
    be used leaves the task running without it.
    """
    if task is None:
        return
    try:
        installation = installation_for(task.app)
        if installation is None:
            return
        request = task.request
        raw = read_carrier(request)
        carrier = installation.carrier
        if raw is None and request.is_eager:
            # Already in the caller's context: restore nothing, but undo what the body binds.
            carrier = _guard_only(carrier)
        policy: TraceRestore = "never" if celery_instrumentor_active() else "if_no_active_span"
        extraction = carrier.extract(raw, restore_trace=policy)
        otel_before = otel_context.get_current()
        extraction.__enter__()
        attached = otel_context.get_current() is not otel_before
        setattr(request, REQUEST_ATTRIBUTE, Restored(extraction, attached))
    except Exception:  # strict mode, or a broken request: the task runs anyway
        logger.exception("ctxcarry: could not restore the context of Celery task %r", task)


def on_task_postrun(task: Any = None, **_: Any) -> None:
    """``task_postrun`` receiver: undo what prerun restored, exactly."""
    if task is None:
        return
    try:
        request = task.request
        restored = vars(request).pop(REQUEST_ATTRIBUTE, None)
        if not isinstance(restored, Restored):
            return
        otel_now = otel_context.get_current()
        restored.extraction.__exit__(None, None, None)
        if not restored.attached_trace and otel_context.get_current() is not otel_now:
            # The OTel context is not ours: leave it where other receivers put it.
            otel_context.attach(otel_now)
    except Exception:
        logger.exception("ctxcarry: could not undo the context of Celery task %r", task)
