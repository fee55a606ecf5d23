"""``install()`` / ``uninstall()``: the process-wide installation of the arq adapter.

arq has no application object and no global hook: the adapter's serializers
and worker hooks are handed to arq explicitly (:func:`pool_options`,
:func:`worker_settings`). They all consult this one installation at every
use, so ``uninstall()`` turns every one of them into a pass-through, and
``install(carrier)`` changes the Carrier of pools and workers built earlier.
"""

from __future__ import annotations

import threading

from ctxcarry import Carrier
from ctxcarry.kit import Installation

__all__ = ["binds_task_identity", "current", "install", "is_installed", "uninstall"]

_lock = threading.Lock()
_installation: Installation | None = None
_task_identity = True


def install(carrier: Carrier | None = None, *, task_identity: bool | None = None) -> None:
    """Carry context with every arq job of this process. Idempotent.

    ``carrier`` configures what travels and the limits. Without one the
    adapter follows the default Carrier (``ctxcarry.get_default_carrier()``,
    read at each use). Installing again with a Carrier replaces it; without
    one changes nothing; :func:`uninstall` forgets it. :func:`pool_options`
    and :func:`worker_settings` call ``install()`` themselves.

    ``task_identity`` (true unless set): bind the running job's ``task_id``
    (arq's job id) and ``task_name`` (its function name) as structlog keys
    for the job, so arq's own log lines and the job's carry them. ``None``
    keeps the choice made so far.
    """
    global _installation, _task_identity
    with _lock:
        if task_identity is not None:
            _task_identity = bool(task_identity)
        if _installation is not None:
            _installation.configure(carrier)
            return
        _installation = Installation(carrier)


def uninstall() -> None:
    """Stop carrying: the serializers write no carrier, the hooks restore nothing."""
    global _installation, _task_identity
    with _lock:
        _task_identity = True
        if _installation is None:
            return
        _installation.active = False
        _installation = None


def is_installed() -> bool:
    """True when :func:`install` was called (and not undone) in this process."""
    return _installation is not None


def current() -> Installation | None:
    """The active installation, or ``None``."""
    installation = _installation
    return installation if installation is not None and installation.active else None


def binds_task_identity() -> bool:
    """Whether jobs get ``task_id``/``task_name`` bound (see :func:`install`)."""
    return _task_identity
