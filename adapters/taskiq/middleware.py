"""``CtxcarryMiddleware``: the Taskiq middleware that carries context with every task.

Send side (``pre_send``, in the task that calls ``kiq()``): the current
context goes into one label, :data:`~.wire.LABEL`, as a JSON string. Two
re-sends keep the label they already hold instead: a retry (the same task id
as a task running in this asyncio task: the retry middlewares re-kick from
``on_error``) and a scheduler's send (a ``schedule_id`` label), whose carrier
was stored when the schedule was created (see :func:`with_context`).

Run side, in the asyncio task that runs the message: ``pre_execute`` restores
the carried context and binds the task's identity; ``post_execute`` undoes it
exactly. Taskiq calls ``post_execute`` for failed tasks too, after every
``on_error`` hook, so the retry middlewares' re-kick and every error hook still
see the task's context. Sync tasks run in the executor with a copy of that
context (Taskiq's ``copy_context().run``), so they see it too.

The open scopes live in a ContextVar, a stack per asyncio task: each message
runs in its own task, and with ``InMemoryBroker(await_inplace=True)`` a nested
run happens inside its caller's task, where the stack puts the caller back
exactly.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.abc.broker import AsyncBroker

from ctxcarry import Carrier, CarrierError, TraceRestore
from ctxcarry.kit import Installation, ScopeStore, never_raises, task_identity

from .wire import AMQP_LABEL_LIMIT, encode_label, read_label, remove_label, write_label

__all__ = ["CtxcarryMiddleware"]

#: The label Taskiq's scheduler adds to every message it sends.
_SCHEDULE_LABEL = "schedule_id"
_AMQP_BROKER_MODULE = "taskiq_aio_pika"


class _Run:
    """One message being run in this asyncio task (the owner of its scope)."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.token: contextvars.Token[tuple[_Run, ...]] | None = None


#: The runs open in the current context, oldest first.
_runs: contextvars.ContextVar[tuple[_Run, ...]] = contextvars.ContextVar(
    "ctxcarry_taskiq_runs", default=()
)
_scopes = ScopeStore()


def _is_amqp_broker(broker: object) -> bool:
    """True for taskiq-aio-pika brokers (they copy every label into the AMQP headers)."""
    return any(
        getattr(cls, "__module__", "").startswith(_AMQP_BROKER_MODULE)
        for cls in type(broker).__mro__
    )


@functools.lru_cache(maxsize=16)
def _capped(carrier: Carrier, limit: int) -> Carrier:
    return carrier.replace(max_bytes=limit) if carrier.max_bytes > limit else carrier


class CtxcarryMiddleware(TaskiqMiddleware):
    """Carries the context of ``kiq()`` into the task, and undoes it after the task.

    ``carrier`` chooses what travels and the limits (``None``: the default
    Carrier, read at each message). ``task_identity=False`` stops binding the
    structlog keys ``task_id`` and ``task_name`` around each task. Prefer
    :func:`~ctxcarry.adapters.taskiq.install`, which puts the middleware first.
    """

    def __init__(self, carrier: Carrier | None = None, *, task_identity: bool = True) -> None:
        super().__init__()
        self.installation = Installation(carrier)
        self.task_identity = task_identity
        self._label_limit: int | None = None

    def set_broker(self, broker: AsyncBroker) -> None:
        """Taskiq's hook when the middleware is added; notes an AMQP label limit."""
        super().set_broker(broker)
        self._label_limit = AMQP_LABEL_LIMIT if _is_amqp_broker(broker) else None

    @property
    def carrier(self) -> Carrier:
        """The Carrier for sends: the installed one, its budget capped on AMQP brokers."""
        carrier = self.installation.carrier
        limit = self._label_limit
        return carrier if limit is None else _capped(carrier, limit)

    # ----------------------------------------------------------------- send

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        """Write the current context into the message's label (never raises)."""
        self._write(message)
        return message

    @never_raises("Taskiq pre_send")
    def _write(self, message: TaskiqMessage) -> None:
        if not self.installation.active:
            return
        labels = message.labels
        if _SCHEDULE_LABEL in labels or _is_retry(message.task_id):
            return  # the original message's carrier, stored or copied
        remove_label(labels, message.labels_types)  # a copied label never wins
        carried = self.carrier.inject()
        if carried:
            write_label(labels, message.labels_types, encode_label(carried))

    # ------------------------------------------------------------------ run

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Restore the carried context for the task (never raises)."""
        self._enter(message)
        return message

    @never_raises("Taskiq pre_execute")
    def _enter(self, message: TaskiqMessage) -> None:
        if not self.installation.active:
            return
        carrier = self.installation.carrier
        raw, refused = read_label(message.labels, carrier.max_bytes)
        if refused is not None and carrier.strict:
            raise CarrierError("ctxcarry.extract", [refused])
        policy: TraceRestore = "never" if carrier.restore_trace == "never" else "if_no_active_span"
        scope = carrier.extract(raw, restore_trace=policy)
        run = _Run(message.task_id)
        token = _runs.set((*_runs.get(), run))
        identity = (
            task_identity(task_id=message.task_id, task_name=message.task_name)
            if self.task_identity
            else None
        )
        try:
            scope.enter(bind=identity)  # the snapshot includes the run: exit takes the fast path
        except BaseException:
            _runs.reset(token)
            raise
        run.token = token
        _scopes.put(run, scope)
        if refused is not None:
            _warn(refused)  # inside the task's scope: the line carries its identity

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """Undo what :meth:`pre_execute` restored, exactly (never raises)."""
        self._exit(message)

    @never_raises("Taskiq post_execute")
    def _exit(self, message: TaskiqMessage) -> None:
        runs = _runs.get()
        for index in range(len(runs) - 1, -1, -1):
            run = runs[index]
            if run.task_id == message.task_id:
                break
        else:
            return
        scope = _scopes.pop(run)
        if scope is not None:
            scope.exit()
        if index == len(runs) - 1 and run.token is not None:
            try:
                _runs.reset(run.token)
                return
            except ValueError:  # a token of another Context
                pass
        _runs.set(runs[:index] + runs[index + 1 :])


def _is_retry(task_id: str) -> bool:
    """True when a message with ``task_id`` is running in this asyncio task."""
    return any(run.task_id == task_id for run in _runs.get())


def _warn(reason: str) -> None:
    """One warning, in the form of the core's (the kit has no public reporter yet)."""
    logging.getLogger("ctxcarry").warning("ctxcarry.extract dropped 1 item(s): %s", reason)
