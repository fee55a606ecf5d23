"""``install()`` / ``uninstall()``: the hooks, once per process."""

from __future__ import annotations

import threading

from ctxcarry import Carrier
from ctxcarry.kit import Installation

from .patches import patch, unpatch
from .state import STATE

__all__ = ["install", "is_installed", "uninstall"]

_lock = threading.Lock()


def is_installed() -> bool:
    """True when :func:`install` was called in this process (and not undone)."""
    return STATE.installation is not None


def install(carrier: Carrier | None = None, *, task_identity: bool | None = None) -> None:
    """Carry context with every rq job this process enqueues or runs. Idempotent.

    Call it once in every process: the producers (web, scripts) and the
    worker (its ``-c`` settings module, or the module of its worker class;
    see the docs for SpawnWorker).

    ``carrier`` configures what travels and the limits. Without one the
    adapter follows the default Carrier (``ctxcarry.get_default_carrier()``,
    read at each use). Installing again with a Carrier replaces it; without
    one changes nothing; :func:`uninstall` forgets it.

    ``task_identity`` (default ``True``) binds the job's id, function name
    and parent job id as the structlog keys ``task_id``, ``task_name`` and
    ``parent_task_id`` while the job runs; ``None`` keeps the current choice.
    """
    with _lock:
        if task_identity is not None:
            STATE.task_identity = bool(task_identity)
        installation = STATE.installation
        if installation is not None:
            installation.configure(carrier)
            return
        STATE.installation = Installation(carrier)
        patch()


def uninstall() -> None:
    """Undo :func:`install`; a no-op when it is not installed."""
    with _lock:
        installation = STATE.installation
        if installation is None:
            return
        installation.active = False
        STATE.installation = None
        STATE.task_identity = True
        unpatch()
