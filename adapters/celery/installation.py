"""Which Celery apps carry context, and the process-wide signal receivers.

Celery's signals are global, so the receivers are connected once per process
(``weak=False`` with a ``dispatch_uid``: a weakly held receiver can be
garbage-collected and silently disconnected) and each one first checks that
the app concerned is installed. On the worker the app is ``task.app``. A
publish signal does not say which app sends, so :func:`install` shadows the
app's ``send_task`` (every publish path ends there: ``delay``,
``apply_async``, canvas, retries, beat) with a wrapper that marks the sending
app for the duration of the call.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Callable
from typing import Any

from celery import Celery, signals

from ctxcarry import Carrier, get_default_carrier

from .compat import require_supported_upstream

__all__ = ["Installation", "install", "installation_for", "is_installed", "publishing", "uninstall"]

_UID = "ctxcarry.adapters.celery"


class Installation:
    """What :func:`install` recorded for one app: the Carrier it uses, and if still active."""

    __slots__ = ("__weakref__", "_carrier", "active")

    def __init__(self, carrier: Carrier | None) -> None:
        self._carrier = carrier
        #: False once the app is uninstalled (a wrapper kept by someone else then marks nothing).
        self.active = True

    @property
    def carrier(self) -> Carrier:
        """The app's Carrier; the default Carrier (read at each use) when none was given."""
        return self._carrier if self._carrier is not None else get_default_carrier()


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


_lock = threading.Lock()
_installed: weakref.WeakKeyDictionary[Celery, Installation] = weakref.WeakKeyDictionary()
_publishing: contextvars.ContextVar[Installation | None] = contextvars.ContextVar(
    "ctxcarry_celery_publishing", default=None
)


def publishing() -> Installation | None:
    """The active installation of the app whose ``send_task`` is running here, if any."""
    installation = _publishing.get()
    return installation if installation is not None and installation.active else None


def installation_for(app: object) -> Installation | None:
    """The app's installation, or ``None`` when the app is not installed."""
    try:
        return _installed.get(app)
    except TypeError:  # an unhashable or un-weakref-able stand-in for an app
        return None


def is_installed(app: Celery) -> bool:
    """True when :func:`install` was called for ``app`` (and not undone)."""
    return installation_for(app) is not None


def install(app: Celery, carrier: Carrier | None = None) -> None:
    """Carry context with every task of ``app``. Idempotent.

    ``carrier`` configures what travels and the limits; ``None`` uses the
    default Carrier (``ctxcarry.get_default_carrier()``, read at each use).
    Calling it again replaces the Carrier and changes nothing else.
    """
    require_supported_upstream()
    if carrier is not None and not isinstance(carrier, Carrier):
        raise TypeError("install() needs a ctxcarry.Carrier or None")
    with _lock:
        installation = _installed.get(app)
        if installation is not None:
            installation._carrier = carrier
            return
        installation = Installation(carrier)
        _installed[app] = installation
        app.send_task = _MarkingSendTask(app.send_task, installation)
        _connect_receivers()


def uninstall(app: Celery) -> None:
    """Undo :func:`install` for ``app``; a no-op when it is not installed."""
    with _lock:
        installation = _installed.pop(app, None)
        if installation is None:
            return
        installation.active = False
        shadow = app.__dict__.get("send_task")
        if isinstance(shadow, _MarkingSendTask):
            del app.__dict__["send_task"]
        if not _installed:
            _disconnect_receivers()


def _connect_receivers() -> None:
    # Imported here: the receivers import this module.
    from .publish import on_before_task_publish
    from .run import on_task_postrun, on_task_prerun

    signals.before_task_publish.connect(on_before_task_publish, weak=False, dispatch_uid=_UID)
    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid=_UID)
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid=_UID)


def _disconnect_receivers() -> None:
    signals.before_task_publish.disconnect(dispatch_uid=_UID)
    signals.task_prerun.disconnect(dispatch_uid=_UID)
    signals.task_postrun.disconnect(dispatch_uid=_UID)
