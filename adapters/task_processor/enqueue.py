"""Enqueue side: stamp the enqueuing context onto each new ``Task`` row.

``TaskHandler.delay()`` builds a ``Task`` whose ``trace_context`` holds the W3C
fields (or ``None``) and saves it in the caller's thread, so a ``pre_save``
receiver sees the caller's context. It merges ctxcarry's keys
(``structlog_context`` and the ``ctxcarry`` envelope) beside the W3C fields and
leaves those untouched. Only rows being inserted are stamped: the processor's
own saves of existing rows, fixtures loaded with ``raw=True`` and
``RecurringTask`` rows (another model, never connected) keep what they have.
"""

from __future__ import annotations

from typing import Any

from ctxcarry.kit import never_raises

from . import config

__all__ = ["stamp_new_task"]


@never_raises("task processor Task pre_save")
def stamp_new_task(sender: object, instance: Any, raw: bool = False, **_: object) -> None:
    """``pre_save`` receiver for ``Task``: add the current context to ``trace_context``.

    Leaves ``trace_context`` as it is (``None`` included) when nothing is bound.
    Never raises: what cannot travel is converted or dropped by the core's
    ``inject``, and a strict Carrier's error is logged (the task is saved
    without a carrier).
    """
    if raw or not instance._state.adding:
        return
    existing = instance.trace_context
    installation = config.installation
    if not existing:
        stamped = installation.carrier.inject({})
        if stamped:
            instance.trace_context = stamped
    elif isinstance(existing, dict):
        # Upstream already propagated the trace: add ours, keep its fields as written.
        instance.trace_context = installation.carrier_without_trace.inject(dict(existing))
