"""Enqueue side: write the current context into the message being published.

Runs wherever a message is published: the web process, the worker (nested
enqueues, retries, chain links, chord bodies) and beat. On the worker the
context of the running task is restored at that point, so what the worker
publishes inherits it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ctxcarry import priority
from ctxcarry.kit import never_raises

from .registry import publishing
from .wire import HEADER

__all__ = ["on_before_task_publish"]


@never_raises("Celery before_task_publish")
def on_before_task_publish(
    headers: MutableMapping[str, Any] | None = None,
    properties: MutableMapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """``before_task_publish`` receiver: fill :data:`HEADER` and maybe the priority.

    Only for messages sent through an installed app. Never raises: a publish
    must not fail because of context (a strict Carrier's error is logged and
    the message goes without a carrier). The carrier is always rewritten, so a
    header copied from an earlier message (``self.retry()`` copies the
    request's headers) never wins over the context current at this publish.
    """
    installation = publishing()
    if installation is None or headers is None:
        return
    if properties is not None and properties.get("priority") is None:
        wanted = priority.get()
        if wanted is not None:
            properties["priority"] = wanted
    headers.pop(HEADER, None)  # a copied header must never win, even if inject fails
    carried = installation.carrier.inject()
    if carried:
        headers[HEADER] = carried
