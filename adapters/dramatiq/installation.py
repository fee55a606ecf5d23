"""``install(broker)`` / ``uninstall(broker)``: the middleware, first in the broker's list.

Position. Dramatiq runs ``before_*`` hooks in list order and ``after_*`` hooks in
reverse, so the first middleware opens its scope before any other middleware's
before hook and closes it after every other after hook. That is where the
context must be: still live when Retries re-enqueues, Pipelines sends the next
step, Callbacks/GroupCallbacks send their callbacks (appended last, ours would
undo the context before them, and the pipeline's later steps would carry
nothing). Sentry's middleware also inserts itself at index 0 (when the broker
is created); ours goes in front of it, so Sentry's per-message isolation scope
and transaction open inside our scope and close before it: properly nested.
"""

from __future__ import annotations

import threading
from typing import Any

from ctxcarry import Carrier

from .middleware import ContextMiddleware

__all__ = ["install", "is_installed", "middleware_of", "uninstall"]

_lock = threading.Lock()


def middleware_of(broker: Any) -> ContextMiddleware | None:
    """The broker's ctxcarry middleware, or ``None``."""
    for middleware in broker.middleware:
        if isinstance(middleware, ContextMiddleware):
            return middleware
    return None


def is_installed(broker: Any) -> bool:
    """True when :func:`install` was called for ``broker`` (and not undone)."""
    return middleware_of(broker) is not None


def install(broker: Any, carrier: Carrier | None = None, *, task_identity: bool = True) -> None:
    """Carry context with every message of ``broker``. Idempotent.

    Call it once per process, in the module that creates the broker (the
    producers and the ``dramatiq`` workers both import it). ``carrier``
    configures what travels and the limits; without one the broker follows the
    default Carrier (``ctxcarry.get_default_carrier()``, read at each use).
    Installing again with a Carrier replaces it; without one changes nothing
    (``task_identity`` too is only taken at the first install);
    :func:`uninstall` forgets it. ``task_identity=False`` stops binding the
    message id, actor name and parent message id as log keys.
    """
    with _lock:
        middleware = middleware_of(broker)
        if middleware is not None:
            middleware.installation.configure(carrier)
            return
        middleware = ContextMiddleware(carrier, task_identity=task_identity)
        if broker.middleware:
            broker.add_middleware(middleware, before=type(broker.middleware[0]))
        else:
            broker.add_middleware(middleware)
        middleware.wrap_actors(broker)


def uninstall(broker: Any) -> None:
    """Undo :func:`install` for ``broker``; a no-op when it is not installed.

    The middleware leaves the broker's list and every actor gets its own
    function back. Call it when no worker of this process is processing
    messages (at shutdown, or between tests): a message in flight would not
    get the after hook that undoes its context.
    """
    with _lock:
        middleware = middleware_of(broker)
        if middleware is None:
            return
        middleware.installation.active = False
        broker.middleware.remove(middleware)
        middleware.unwrap_actors(broker)
