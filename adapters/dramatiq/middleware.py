"""The middleware: stamp each message with the context, restore it around each run.

**Enqueue** (``before_enqueue``, in whichever thread enqueues). A message is
*stamped* once, at its first enqueue: :data:`~.wire.OPTION` gets the current
context (``None`` when nothing is bound) and, when the enqueue happens inside a
running message, :data:`~.wire.PARENT_OPTION` gets that message's id. Dramatiq
re-enqueues *the same message* (``Message.copy`` keeps the options) for a retry
(in the worker thread, after the failed run), when a delayed message leaves the
delay queue (in a consumer thread, with an empty context) and on RabbitMQ's
publish-retry loop: a stamped message keeps its stamp, so each of these runs
with the context of the original enqueue. Every message *built* in the worker
is fresh and inherits the context live at that point: a nested ``send``, what
the actor had bound when it sent; a pipeline's next step, an
``on_success``/``on_failure`` callback and a group's completion callback, sent
after the actor (whose own bindings are undone by then, see ``direct``), the
context the running message was restored with.

**Run** (``before_process_message`` and ``after_process_message`` /
``after_skip_message``, in the worker thread that runs the message). The carrier
is restored and the message's identity bound; afterwards everything is put back
exactly, so the next message on the thread starts clean. The open scope and the
tokens are kept on the message proxy, never on this (shared) middleware.

The middleware goes first in the broker's list (see ``installation``): its
``before_process_message`` runs before every other middleware's, and, since
Dramatiq runs the ``after_*`` hooks in reverse, its after hooks run last: the
context is still live when Retries, Pipelines, Callbacks, GroupCallbacks,
Results and Sentry do their work after the actor.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import dramatiq

from ctxcarry import Carrier, priority
from ctxcarry.kit import (
    Installation,
    ScopeStore,
    enter_task_scope,
    never_raises,
    task_identity,
)

from .direct import unwrap_actor, wrap_actor
from .wire import OPTION, PARENT_OPTION, read_carrier, read_parent_id

__all__ = ["ContextMiddleware", "running_message_id"]

_logger = logging.getLogger("ctxcarry")

#: The id of the message whose run this context belongs to (for parent ids).
running_message_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ctxcarry_dramatiq_running", default=None
)

#: Where the run's ``running_message_id`` token is kept on the message proxy.
_TOKEN_ATTRIBUTE = "_ctxcarry_running_token"


class ContextMiddleware(dramatiq.Middleware):
    """Carries ctxcarry's context with every message of one broker.

    Added by :func:`ctxcarry.adapters.dramatiq.install`; not meant to be
    constructed directly.
    """

    def __init__(self, carrier: Carrier | None = None, *, task_identity: bool = True) -> None:
        #: What this middleware carries with; inactive once uninstalled.
        self.installation = Installation(carrier)
        #: Whether the message id, actor name and parent id are bound as log keys.
        self.task_identity = task_identity
        self._scopes = ScopeStore()

    # -- actors: their function runs guarded ----------------------------------------------

    @never_raises("Dramatiq after_declare_actor")
    def after_declare_actor(self, broker: Any, actor: Any) -> None:
        """Wrap the actor's function: a direct call leaves its caller intact (see ``direct``).

        Dramatiq before 2.0 passes the actor's name when the middleware is added.
        """
        if isinstance(actor, str):
            actor = broker.actors.get(actor)
        if actor is not None and self.installation.active:
            wrap_actor(actor, self.installation)

    def wrap_actors(self, broker: Any) -> None:
        """Wrap every actor ``broker`` has now (later ones: ``after_declare_actor``)."""
        for actor in list(broker.actors.values()):
            wrap_actor(actor, self.installation)

    def unwrap_actors(self, broker: Any) -> None:
        """Give every actor of ``broker`` its own function back (on uninstall)."""
        for actor in list(broker.actors.values()):
            unwrap_actor(actor)

    # -- enqueue ---------------------------------------------------------------------------

    @never_raises("Dramatiq before_enqueue")
    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        """Stamp a message at its first enqueue; a stamped one keeps its stamp.

        Never raises: an enqueue must not fail because of context (a strict
        Carrier's error is logged, and the message goes with ``None``).
        """
        installation = self.installation
        if not installation.active:
            return
        options = message.options
        if OPTION in options:
            return  # a retry, a delayed message coming due, a publish retry: same message
        options[OPTION] = None
        running = running_message_id.get()
        if running is not None and running == message.message_id:
            return  # the running message re-enqueued itself: it keeps what it ran with
        if running is not None:
            options[PARENT_OPTION] = running
        _use_priority(broker, options)
        carried = installation.carrier.inject()
        if carried:
            options[OPTION] = carried

    # -- run -------------------------------------------------------------------------------

    @never_raises("Dramatiq before_process_message")
    def before_process_message(self, broker: Any, message: Any) -> None:
        """Restore the message's context in the worker thread; bind its identity."""
        installation = self.installation
        if not installation.active:
            return
        options = message.options
        message_id = message.message_id
        identity = (
            task_identity(
                task_id=message_id,
                task_name=message.actor_name,
                parent_task_id=read_parent_id(options),
            )
            if self.task_identity
            else None
        )
        scope = enter_task_scope(
            installation.carrier,
            read_carrier(options),
            restore_trace="if_no_active_span",
            task=message_id,
            identity=identity,
        )
        self._scopes.put(message, scope)
        vars(message)[_TOKEN_ATTRIBUTE] = running_message_id.set(
            message_id if isinstance(message_id, str) else None
        )

    @never_raises("Dramatiq after_process_message")
    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        """Undo what ``before_process_message`` restored, exactly (also on failure)."""
        self._close(message)

    @never_raises("Dramatiq after_skip_message")
    def after_skip_message(self, broker: Any, message: Any) -> None:
        """A skipped message gets this hook instead of ``after_process_message``."""
        self._close(message)

    def _close(self, message: Any) -> None:
        """Reset the running id, then close the run's scope. Idempotent; tolerates no open.

        The id is reset first (it was set after the scope opened), so the scope
        finds the context as it left it and closes on its fast path.
        """
        token = vars(message).pop(_TOKEN_ATTRIBUTE, None)
        if token is not None:
            try:
                running_message_id.reset(token)
            except ValueError:  # a token of another Context
                running_message_id.set(None)
        scope = self._scopes.pop(message)
        if scope is not None:
            scope.exit()


def _use_priority(broker: Any, options: dict[str, Any]) -> None:
    """Turn the ``priority`` QueueVar into RabbitMQ's ``broker_priority``, unless given.

    Only for a broker with message priorities (a ``RabbitmqBroker`` made with
    ``max_priority``); capped at that maximum.
    """
    wanted = priority.get()
    if wanted is None or "broker_priority" in options:
        return
    maximum = getattr(broker, "max_priority", None)
    if isinstance(maximum, int) and maximum > 0:
        options["broker_priority"] = min(wanted, maximum)
