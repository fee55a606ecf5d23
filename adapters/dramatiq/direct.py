"""Direct calls: ``my_actor(...)`` runs the function in the caller, which must stay intact.

Dramatiq has no eager mode: calling an actor is a plain call of its function,
with no middleware, in the caller's context; whatever the function binds stays
bound in the caller. So the installed broker's actors get their ``fn`` wrapped
(:class:`GuardedFunction`): a direct call runs inside :func:`ctxcarry.kit.guard_scope`
(it sees the caller's context and the caller gets it back exactly), while the
worker's own call of the message it is running is passed straight through: that
run is already inside the middleware's scope, which undoes everything after the
after-hooks (so retries, pipeline steps and callbacks still see it).

The worker's call is recognised by :data:`worker_call`, which
``before_process_message`` sets to the message's actor name in the worker
thread and which the first call of that actor's function consumes. A call
made from inside a running actor (another actor called directly) finds it
consumed, and is guarded.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

from ctxcarry.kit import Installation, guard_scope

__all__ = ["GuardedFunction", "unwrap_actor", "worker_call", "wrap_actor"]

#: The actor name whose function the worker is about to call in this context.
worker_call: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ctxcarry_dramatiq_worker_call", default=None
)


class GuardedFunction:
    """An actor's function, guarded when it is called directly."""

    def __init__(self, fn: Callable[..., Any], actor_name: str, installation: Installation):
        functools.update_wrapper(self, fn)
        self.__wrapped__ = fn
        self.actor_name = actor_name
        self.installation = installation

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self.__wrapped__
        if worker_call.get() == self.actor_name:  # the worker's own call of the message
            worker_call.set(None)
            return fn(*args, **kwargs)
        if not self.installation.active:
            return fn(*args, **kwargs)
        scope = guard_scope()
        scope.enter()
        try:
            return fn(*args, **kwargs)
        finally:
            scope.exit()

    def __repr__(self) -> str:
        return f"<ctxcarry guarded {self.__wrapped__!r}>"


def wrap_actor(actor: Any, installation: Installation) -> None:
    """Guard ``actor.fn`` against direct calls (once)."""
    fn = actor.fn
    if isinstance(fn, GuardedFunction):
        fn.installation = installation
        return
    actor.fn = GuardedFunction(fn, actor.actor_name, installation)


def unwrap_actor(actor: Any) -> None:
    """Give ``actor`` its own function back."""
    fn = actor.fn
    if isinstance(fn, GuardedFunction):
        actor.fn = fn.__wrapped__
