"""Fail at ``install()``, naming the Celery version, when Celery lacks what the adapter uses.

The adapter relies on Celery internals that no public contract promises: three
signals, ``Celery.send_task`` as the one path every publish takes, and the
attributes of the task request (``celery.app.task.Context``) that hold the
message headers. A Celery release without one of them would make the adapter
silently carry nothing; :func:`require_supported_upstream` turns that into an
error at ``install()`` that says which version is installed and which versions
are supported.
"""

from __future__ import annotations

from ctxcarry.kit import unsupported_upstream

__all__ = ["SUPPORTED", "UnsupportedCeleryError", "missing_internals", "require_supported_upstream"]

#: The Celery versions ctxcarry supports (and the series the test matrix runs).
SUPPORTED = "Celery >= 5.3 (tested: 5.3 to 5.7)"

_SIGNALS = ("before_task_publish", "task_prerun", "task_postrun")
#: What the run side reads on ``task.request`` (see ``wire.read_carrier`` and ``run``).
_REQUEST_ATTRIBUTES = ("get", "headers", "is_eager")


class UnsupportedCeleryError(RuntimeError):
    """The installed Celery lacks an internal the adapter depends on."""


def missing_internals() -> list[str]:
    """The dotted names of the Celery internals the adapter needs and cannot find."""
    from celery import Celery, signals
    from celery.app.task import Context

    missing = [f"celery.signals.{name}" for name in _SIGNALS if not hasattr(signals, name)]
    missing += [
        f"celery.app.task.Context.{name}"
        for name in _REQUEST_ATTRIBUTES
        if not hasattr(Context, name)
    ]
    if not callable(getattr(Celery, "send_task", None)):
        missing.append("celery.Celery.send_task")
    return missing


def require_supported_upstream() -> None:
    """Raise :class:`UnsupportedCeleryError` when :func:`missing_internals` finds anything."""
    message = unsupported_upstream(
        "Celery adapter", "Celery", "celery", missing_internals(), SUPPORTED
    )
    if message is not None:
        raise UnsupportedCeleryError(message)
