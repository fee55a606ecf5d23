"""The adapter kit: everything an adapter for a queue or a web framework needs.

Every adapter ctxcarry ships is written on this module and the top-level
``ctxcarry`` API, and on nothing else; so is yours (see docs/adapters/writing.md).

A **queue adapter** has two sides:

* *enqueue*: where the queue builds a message, call
  ``installation.carrier.inject()`` and store the dict in the message (a
  header, a metadata field). It never raises because of what is bound.
* *run*: in the queue's hook before a task, open the task's scope with
  ``installation.carrier.extract(raw, restore_trace=...)`` and
  :meth:`~ctxcarry.Extraction.enter`; keep it on the task with a
  :class:`ScopeStore`; in the hook after the task (which queues also run when
  the task fails), take it back and :meth:`~ctxcarry.Extraction.exit`. The
  scope knows whether it attached the carried trace (``attached_trace``).
  :func:`guard_scope` restores nothing and only undoes what the task binds:
  for tasks run inline in the caller's context.

Both sides run inside the queue's own code, so every hook is wrapped in
:func:`never_raises`. :class:`Installation` gives every adapter the same
``install``/``uninstall``/``is_installed`` meaning: ``carrier=None`` follows
the default Carrier (read at each use), a Carrier is used as given;
installing again with a Carrier replaces it, without one changes nothing, and
``uninstall`` forgets it.

A **web adapter** opens a :class:`RequestScope` around the whole downstream
call, binds a request id (:func:`choose_request_id`, :func:`new_request_id`)
and the user's hook values (:func:`call_bind_hook`, :meth:`RequestScope.bind`).
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import importlib.metadata
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from . import _logvars
from ._carrier import Carrier, get_default_carrier
from ._problems import CarrierError, logger, safe_name
from ._request_id import choose_request_id, new_request_id
from ._request_scope import (
    RequestBindings,
    RequestScope,
    bind_request_values,
    call_bind_hook,
    report_hook_failure,
    request_keys,
)
from ._restore import Extraction, TraceRestore
from ._scope import Scope
from ._trace import check_trace_value, trace_fields

__all__ = [
    "PARENT_TASK_ID_KEY",
    "TASK_IDENTITY_KEYS",
    "TASK_ID_KEY",
    "TASK_NAME_KEY",
    "Installation",
    "RequestBindings",
    "RequestScope",
    "ScopeStore",
    "bind_request_values",
    "bind_task_identity",
    "call_bind_hook",
    "checked_trace_headers",
    "choose_request_id",
    "enter_task_scope",
    "guard_scope",
    "import_queuevar_modules",
    "logger",
    "never_raises",
    "new_request_id",
    "replayed",
    "report_hook_failure",
    "request_keys",
    "task_identity",
    "trace_fields",
    "unsupported_upstream",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The structlog keys a queue adapter binds for the task's own identity.
TASK_ID_KEY = "task_id"
TASK_NAME_KEY = "task_name"
PARENT_TASK_ID_KEY = "parent_task_id"
TASK_IDENTITY_KEYS = (TASK_ID_KEY, TASK_NAME_KEY, PARENT_TASK_ID_KEY)
assert frozenset(TASK_IDENTITY_KEYS) == _logvars.LOCAL_KEYS


class Installation:
    """One adapter installation: whether it is active, and the Carrier it uses.

    Until a Carrier is given it follows :func:`ctxcarry.get_default_carrier`
    at every use, so ``set_default_carrier`` keeps working; a Carrier is used
    as given (see :meth:`configure`).
    """

    __slots__ = ("__weakref__", "_carrier", "active", "task_identity")

    def __init__(self, carrier: Carrier | None = None, *, task_identity: bool = True) -> None:
        self._carrier: Carrier | None = None
        #: Bind each task's id, name and parent id for its duration (see
        #: :func:`bind_task_identity`); an adapter's ``install`` can turn it off.
        self.task_identity = task_identity
        self.configure(carrier)
        #: False once uninstalled (a hook someone else kept then does nothing).
        self.active = True

    def configure(self, carrier: Carrier | None, *, task_identity: bool | None = None) -> None:
        """Use ``carrier`` from now on; ``None`` keeps the Carrier chosen so far.

        So a plain ``install()`` run later (as an ``AppConfig.ready`` does)
        never undoes a Carrier the user chose; ``uninstall`` forgets it.
        ``task_identity`` likewise changes the setting only when given.
        """
        if task_identity is not None:
            self.task_identity = task_identity
        if carrier is None:
            return
        if not isinstance(carrier, Carrier):
            raise TypeError(f"install() needs a ctxcarry.Carrier or None, not {type(carrier)!r}")
        self._carrier = carrier

    @property
    def carrier(self) -> Carrier:
        """The Carrier to use now."""
        return self._carrier if self._carrier is not None else get_default_carrier()

    @property
    def carrier_without_trace(self) -> Carrier:
        """:attr:`carrier` minus the trace fields.

        For messages whose trace fields another library already wrote.
        """
        return _without_trace(self.carrier)


@functools.lru_cache(maxsize=16)
def _without_trace(carrier: Carrier) -> Carrier:
    return carrier.replace(carry_trace=False)


def unsupported_upstream(
    adapter: str, product: str, distribution: str, missing: list[str], supported: str
) -> str | None:
    """The ``install()`` error for an upstream release that lacks what ``adapter`` uses.

    ``missing`` names the internals the adapter looked for and did not find;
    ``None`` when it is empty. The message names the installed version of
    ``distribution`` and the supported ones, so that an upgrade of the queue
    fails loudly at ``install()`` instead of silently carrying nothing.
    """
    if not missing:
        return None
    try:
        installed = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        installed = "(version unknown)"
    return (
        f"ctxcarry's {adapter} does not support {product} {installed}: it has no "
        f"{', '.join(missing)}. Supported: {supported}."
    )


def import_queuevar_modules(modules: Iterable[str]) -> None:
    """Import each module that defines QueueVars, so they exist in this process.

    A worker finds a carried QueueVar by its name only if the module that
    creates it was imported there; relying on import order (a view module
    that happens to be imported by system checks) breaks with the first
    ``--skip-checks``. Adapters call this from ``install(..., queuevars=[...])``;
    a module that does not import raises here, at start-up.
    """
    for module in modules:
        importlib.import_module(module)


def enter_task_scope(
    carrier: Carrier,
    raw: object,
    *,
    restore_trace: TraceRestore,
    task: object,
    identity: Mapping[str, object] | None = None,
) -> Extraction:
    """Open a task's scope: ``raw`` restored, or a guard when the carrier is refused.

    A strict Carrier raises :class:`~ctxcarry.CarrierError` for a carrier it
    would otherwise trim; the task still runs, and what it binds must still
    be undone, so the scope falls back to :func:`guard_scope` and one warning
    names ``task`` and the problems. ``identity`` (see :func:`task_identity`)
    is bound for the task either way. Returns the open scope; close it with
    ``exit()`` in the hook after the task.
    """
    scope = carrier.extract(raw, restore_trace=restore_trace)
    try:
        scope.enter(bind=identity)
    except CarrierError as exc:
        logger.warning("ctxcarry: task %s runs without its carrier: %s", safe_name(task), exc)
        scope = guard_scope()
        scope.enter(bind=identity)
    return scope


def guard_scope() -> Extraction:
    """A scope that restores nothing; its exit undoes whatever the block bound.

    For a task that runs inline, in its caller's context (an eager task
    without a carrier): the task sees the caller's context, and the caller
    gets it back exactly.
    """
    return Extraction(None, None)


_SCOPE_ATTRIBUTE = "_ctxcarry_scope"


class ScopeStore:
    """Keeps each task's open scope between the hook before and the hook after it.

    ``owner`` is whatever both hooks see for the same run: the task's request
    object (the scope is then kept on it, and goes away with it) or, for
    objects that take no attributes, a hashable key such as the job id (kept
    in this store until :meth:`pop`).
    """

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[Hashable, Extraction] = {}

    def put(self, owner: Any, scope: Extraction) -> None:
        """Keep ``scope`` for ``owner``."""
        try:
            vars(owner)[_SCOPE_ATTRIBUTE] = scope
        except TypeError:  # no __dict__ (slots, frozen, a str id): key by the owner
            self._by_key[owner] = scope

    def pop(self, owner: Any) -> Extraction | None:
        """The scope kept for ``owner`` (removed from the store), or ``None``."""
        try:
            scope = vars(owner).pop(_SCOPE_ATTRIBUTE, None)
        except TypeError:
            scope = self._by_key.pop(owner, None)
        return scope if isinstance(scope, Extraction) else None


def never_raises(what: str) -> Callable[[F], F]:
    """Decorate a hook another library calls: an exception is logged, never raised.

    ``what`` names the hook in the log line (``"Celery task_prerun"``). A
    raising hook breaks queues in ways worse than a missing context (a task
    marked failed, a worker killed, a row locked); the task goes on without
    its context instead, and the ``ctxcarry`` logger says why.
    """

    def decorate(hook: F) -> F:
        @functools.wraps(hook)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return hook(*args, **kwargs)
            except Exception:
                logger.exception("ctxcarry: %s failed; the task goes on without it", what)
                return None

        return guarded  # type: ignore[return-value]

    return decorate


def task_identity(
    *, task_id: object, task_name: object, parent_task_id: object = None
) -> dict[str, str]:
    """The running task's identity as structlog keys (``task_id``, ``task_name``, parent).

    ``None`` values are left out; others become ``str``. Pass the result to
    ``scope.enter(bind=...)`` (or :func:`enter_task_scope`'s ``identity``): the
    keys then last exactly the task, every line it logs carries them (the
    scope's own warning included), and they are never carried onward, so a
    task's id never becomes its children's (see :data:`TASK_IDENTITY_KEYS`).
    """
    values = {TASK_ID_KEY: task_id, TASK_NAME_KEY: task_name, PARENT_TASK_ID_KEY: parent_task_id}
    return {key: str(value) for key, value in values.items() if value is not None}


def bind_task_identity(
    *, task_id: object, task_name: object, parent_task_id: object = None
) -> None:
    """Bind :func:`task_identity` in the current context, inside an open scope.

    The scope's exit undoes it. Prefer ``scope.enter(bind=task_identity(...))``,
    which binds it with the scope's own tokens (a faster exit) and before the
    scope's warning.
    """
    identity = task_identity(task_id=task_id, task_name=task_name, parent_task_id=parent_task_id)
    for key, value in identity.items():
        _logvars.var_for(key).set(value)


@contextmanager
def replayed(context: contextvars.Context) -> Iterator[None]:
    """Run the block with every variable of ``context``; then restore exactly.

    For work a framework runs after the request's scope closed, such as a
    streaming body: pass a copy of the request's context taken before it closed.
    """
    scope = Scope()
    scope.open()
    try:
        scope.replay(context)
        yield
    finally:
        scope.close()


def checked_trace_headers(raw: object) -> dict[str, str]:
    """The W3C trace fields of ``raw`` that are safe to hand to a propagator.

    For adapters whose queue itself calls ``propagate.extract`` on a stored
    carrier: a malformed field (a number for ``traceparent``, a non-dict
    carrier) makes OpenTelemetry raise inside the queue's code. Returns only
    the global propagator's fields that pass the core's checks; never raises.
    """
    if not isinstance(raw, Mapping):
        return {}
    checked: dict[str, str] = {}
    try:
        for field in trace_fields():
            value = raw.get(field)
            if value is not None and check_trace_value(field, value) is None:
                checked[field] = value
    except Exception:  # a hostile Mapping
        return {}
    return checked
