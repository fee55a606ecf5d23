"""``install(broker)`` / ``uninstall(broker)``: one middleware per broker, first in line."""

from __future__ import annotations

import threading

from taskiq.abc.broker import AsyncBroker

from ctxcarry import Carrier

from .middleware import CtxcarryMiddleware

__all__ = ["install", "is_installed", "middleware_of", "uninstall"]

_lock = threading.Lock()


def middleware_of(broker: AsyncBroker) -> CtxcarryMiddleware | None:
    """The broker's :class:`CtxcarryMiddleware`, or ``None``."""
    for middleware in broker.middlewares:
        if isinstance(middleware, CtxcarryMiddleware):
            return middleware
    return None


def is_installed(broker: AsyncBroker) -> bool:
    """True when the broker has an active :class:`CtxcarryMiddleware`."""
    middleware = middleware_of(broker)
    return middleware is not None and middleware.installation.active


def install(
    broker: AsyncBroker, carrier: Carrier | None = None, *, task_identity: bool = True
) -> CtxcarryMiddleware:
    """Carry context with every task sent or run through ``broker``. Idempotent.

    The middleware goes **first** in ``broker.middlewares``: its ``pre_execute``
    runs before, and its ``post_execute`` after, every other middleware's, so
    they all see the task's context (and an OpenTelemetry consumer span started
    by Taskiq's ``OpenTelemetryMiddleware`` continues the carried trace even
    when the producer had no OpenTelemetry middleware).

    ``carrier`` configures what travels and the limits. Without one the broker
    follows the default Carrier (``ctxcarry.get_default_carrier()``, read at
    each use). Installing again with a Carrier replaces it; without one changes
    nothing; :func:`uninstall` forgets it. ``task_identity=False`` stops binding
    ``task_id``/``task_name`` around each task (from the first install on).
    """
    with _lock:
        middleware = middleware_of(broker)
        if middleware is not None:
            middleware.installation.configure(carrier)
            return middleware
        middleware = CtxcarryMiddleware(carrier, task_identity=task_identity)
        middleware.set_broker(broker)
        broker.middlewares.insert(0, middleware)
        return middleware


def uninstall(broker: AsyncBroker) -> None:
    """Remove the broker's :class:`CtxcarryMiddleware`; a no-op when there is none."""
    with _lock:
        middleware = middleware_of(broker)
        if middleware is None:
            return
        middleware.installation.active = False
        broker.middlewares.remove(middleware)
