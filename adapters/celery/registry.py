"""Which Celery apps carry context, and which app is publishing right now.

Celery's signals are global and a publish signal does not say which app sends,
so :func:`mark_publisher` shadows an app's ``send_task`` (every publish path
ends there: ``delay``, ``apply_async``, canvas, retries, beat) with a wrapper
that marks the sending app for the duration of the call. On the worker the app
is ``task.app``.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable
from typing import Any

from celery import Celery

from ctxcarry.kit import Installation

__all__ = ["installation_for", "installations", "mark_publisher", "publishing", "unmark_publisher"]

#: Every installed app and its installation (apps are never kept alive by it).
installations: weakref.WeakKeyDictionary[Celery, Installation] = weakref.WeakKeyDictionary()

_publishing: contextvars.ContextVar[Installation | None] = contextvars.ContextVar(
    "ctxcarry_celery_publishing", default=None
)


class _MarkingSendTask:
    """Stands in for ``app.send_task``: marks the app as the publisher, then sends."""

    __slots__ = ("installation", "original")

    def __init__(self, original: Callable[..., Any], installation: Installation) -> None:
        self.original = original
        self.installation = installation

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = _publishing.set(self.installation)
        try:
            return self.original(*args, **kwargs)
        finally:
            _publishing.reset(token)


def mark_publisher(app: Celery, installation: Installation) -> None:
    """Shadow ``app.send_task`` so that its publishes are marked as ``installation``'s."""
    app.send_task = _MarkingSendTask(app.send_task, installation)


def unmark_publisher(app: Celery) -> None:
    """Remove the shadow (a wrapper someone else kept marks nothing once inactive)."""
    if isinstance(app.__dict__.get("send_task"), _MarkingSendTask):
        del app.__dict__["send_task"]


def publishing() -> Installation | None:
    """The active installation of the app whose ``send_task`` is running here, if any."""
    installation = _publishing.get()
    return installation if installation is not None and installation.active else None


def installation_for(app: object) -> Installation | None:
    """The app's installation, or ``None`` when the app is not installed."""
    try:
        return installations.get(app)
    except TypeError:  # an unhashable or un-weakref-able stand-in for an app
        return None
