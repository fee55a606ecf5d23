"""The actor's function runs in a guard: what its body binds stays in the body.

Dramatiq has no eager mode: calling an actor, ``my_actor(...)``, is a plain call
of its function in the caller's context, with no middleware, and whatever the
function binds stays bound in the caller. So the installed broker's actors get
their ``fn`` wrapped (:class:`GuardedFunction`), and every call runs inside
:func:`ctxcarry.kit.guard_scope`: the body sees its caller's context, and the
caller gets it back exactly.

The worker's own call is guarded too, inside the middleware's scope. The body's
bindings are undone when the body returns, before the middleware after hooks
run; so what Dramatiq sends after the actor (the next pipeline step, the
``on_success``/``on_failure`` callback, a group's completion callback) carries
the context the message ran with, not the leftovers of its body (which would
depend on which group member finished last). What the body sends itself, while
it runs, carries what the body had bound at that point. Async actors behave the
same way by construction (their coroutine runs in a copy of the context).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ctxcarry.kit import Installation, guard_scope

__all__ = ["GuardedFunction", "unwrap_actor", "wrap_actor"]


class GuardedFunction:
    """An actor's function, run inside a guard scope while the adapter is installed."""

    def __init__(self, fn: Callable[..., Any], installation: Installation) -> None:
        functools.update_wrapper(self, fn)
        self.__wrapped__ = fn
        self.installation = installation

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self.__wrapped__
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
    """Guard ``actor.fn`` (once)."""
    fn = actor.fn
    if isinstance(fn, GuardedFunction):
        fn.installation = installation
        return
    actor.fn = GuardedFunction(fn, installation)


def unwrap_actor(actor: Any) -> None:
    """Give ``actor`` its own function back."""
    fn = actor.fn
    if isinstance(fn, GuardedFunction):
        actor.fn = fn.__wrapped__
