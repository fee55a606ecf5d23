"""``install(app)`` / ``uninstall(app)``: the receivers, connected once per process.

The receivers are connected strongly (``weak=False`` with a ``dispatch_uid``: a
weakly held receiver can be garbage-collected and silently disconnected), and
each one first checks that the app concerned is installed (see ``registry``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from celery import Celery, signals

from ctxcarry import Carrier
from ctxcarry.kit import Installation, import_queuevar_modules

from .compat import require_supported_upstream
from .publish import on_before_task_publish
from .registry import installation_for, installations, mark_publisher, unmark_publisher
from .run import on_task_postrun, on_task_prerun

__all__ = ["install", "is_installed", "uninstall"]

_UID = "ctxcarry.adapters.celery"
_lock = threading.Lock()


def is_installed(app: Celery) -> bool:
    """True when :func:`install` was called for ``app`` (and not undone)."""
    return installation_for(app) is not None


def install(
    app: Celery,
    carrier: Carrier | None = None,
    *,
    queuevars: Iterable[str] = (),
    task_identity: bool | None = None,
) -> None:
    """Carry context with every task of ``app``. Idempotent.

    ``carrier`` configures what travels and the limits. Without one the app
    follows the default Carrier (``ctxcarry.get_default_carrier()``, read at
    each use). Installing again with a Carrier replaces it; without one
    changes nothing; :func:`uninstall` forgets it. ``queuevars`` names the
    modules that define your QueueVars: they are imported here, so every
    process that installs the app (web, beat, worker) knows them. ``task_identity``
    (on by default) binds each task's ``task_id``, ``task_name`` and
    ``parent_task_id`` for its duration; they are never carried onward.
    """
    require_supported_upstream()
    import_queuevar_modules(queuevars)
    with _lock:
        installation = installations.get(app)
        if installation is not None:
            installation.configure(carrier, task_identity=task_identity)
            return
        installation = Installation(carrier, task_identity=task_identity is not False)
        installations[app] = installation
        mark_publisher(app, installation)
        signals.before_task_publish.connect(on_before_task_publish, weak=False, dispatch_uid=_UID)
        signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid=_UID)
        signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid=_UID)


def uninstall(app: Celery) -> None:
    """Undo :func:`install` for ``app``; a no-op when it is not installed."""
    with _lock:
        installation = installations.pop(app, None)
        if installation is None:
            return
        installation.active = False
        unmark_publisher(app)
        if not installations:
            signals.before_task_publish.disconnect(dispatch_uid=_UID)
            signals.task_prerun.disconnect(dispatch_uid=_UID)
            signals.task_postrun.disconnect(dispatch_uid=_UID)
