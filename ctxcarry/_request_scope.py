"""The framework-free part of the request middlewares: one scope per request.

A :class:`RequestScope` is opened when a request arrives and closed when the
middleware's call returns:

* **entry** -- the *request keys* (below) are unbound and every registered
  QueueVar is cleared, whatever the calling context holds, so a request never
  starts with another request's values (CPython gh-140947: on a keep-alive
  connection, uvicorn can start a request in a copy of the previous request's
  context). Then ``request_id`` is bound, and an inbound W3C trace context is
  attached when the middleware trusts it and no server span is current;
* **during** -- :func:`bind_request_values` binds the values a user hook
  returns (structlog keys and QueueVars); the view binds whatever it likes;
* **exit** -- every structlog key and QueueVar is put back exactly as it was at
  entry (keys the view bound itself included) and the OTel context is
  restored. Bindings made outside the scope are never touched: no
  ``clear_contextvars()``.

*Request keys* are every structlog key name that has ever been bound inside a
request scope in this process: ``request_id``, the hook's keys, and every key
a view, dependency or background task was seen binding (learned when the
scope exits, and in Starlette also when the last response chunk is sent).
The set only grows, up to :data:`MAX_REQUEST_KEYS` names. A key is either a
request key or a process key: if code outside requests binds a name that a
request also binds, requests start without the outer value (it is back after
the request).

Restoring is the engine's (:class:`ctxcarry._scope.Scope`): undo with
tokens, then compare the whole context with the entry snapshot, so it also
works when a framework moves the request between contexts (asgiref copies a
sync view's context changes back to its caller, where tokens fail).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from . import _logvars
from ._names import is_valid_key
from ._problems import logger, safe_name
from ._queuevar import CLEARED, QueueVar, registered_pairs
from ._scope import Scope
from ._trace import check_trace_value, trace_fields

__all__ = [
    "MAX_REQUEST_KEYS",
    "REQUEST_ID_KEY",
    "RequestBindings",
    "RequestScope",
    "bind_request_values",
    "call_bind_hook",
    "report_hook_failure",
    "request_keys",
]

T = TypeVar("T")

#: The structlog key the request id is bound under.
REQUEST_ID_KEY = "request_id"

#: Most structlog key names remembered as request keys (see the module docstring).
MAX_REQUEST_KEYS = 4096

#: What a bind hook returns: ``str`` keys are structlog keys, ``QueueVar`` keys
#: set that QueueVar for the request.
RequestBindings = Mapping[Union[str, "QueueVar[Any]"], object]


class _RequestKeys:
    """The request keys: structlog ContextVars to unbind at every request entry.

    Readers iterate an immutable tuple; writers replace it under a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.vars: tuple[contextvars.ContextVar[Any], ...] = ()
        self.known: frozenset[contextvars.ContextVar[Any]] = frozenset()

    def add(self, cvar: contextvars.ContextVar[Any]) -> None:
        """Remember ``cvar`` (a structlog ContextVar) as a request key."""
        if cvar in self.known:
            return
        with self._lock:
            if cvar in self.known or len(self.known) >= MAX_REQUEST_KEYS:
                return
            self.vars = (*self.vars, cvar)
            self.known = self.known | {cvar}

    def names(self) -> frozenset[str]:
        return frozenset(filter(None, map(_logvars.key_of, self.vars)))


_request_keys = _RequestKeys()
_request_id_var = _logvars.var_for(REQUEST_ID_KEY)
_request_keys.add(_request_id_var)


def request_keys() -> frozenset[str]:
    """The structlog key names unbound at every request entry (see the module docstring)."""
    return _request_keys.names()


class RequestScope:
    """One request's context: clean baseline at :meth:`enter`, exact restore at :meth:`exit`.

    Enter and exit it in the same call frame (one middleware call around the
    rest of the application), never across separate hooks.
    """

    __slots__ = ("_baseline", "_scope", "request_id")

    def __init__(self) -> None:
        self._scope = Scope()
        self._baseline: contextvars.Context | None = None
        self.request_id = ""

    def enter(self, request_id: str, trace_headers: Mapping[str, str] | None = None) -> None:
        """Reset to the baseline, bind ``request_id``, maybe attach the inbound trace.

        ``trace_headers`` are the request's W3C trace headers (lowercase names),
        given only when the middleware is configured to trust them.
        """
        if self._scope.is_open:
            raise RuntimeError("this RequestScope is already open")
        scope = self._scope
        scope.open()
        for cvar in _request_keys.vars:
            if cvar.get() is not _logvars.UNBOUND:
                scope.set(cvar, _logvars.UNBOUND)
        for _, queuevar_cvar in registered_pairs():
            if queuevar_cvar.get() is not CLEARED:
                scope.set(queuevar_cvar, CLEARED)
        scope.set(_request_id_var, request_id)
        self.request_id = request_id
        if trace_headers:
            self._attach_inbound_trace(trace_headers)
        self._baseline = contextvars.copy_context()

    def _attach_inbound_trace(self, headers: Mapping[str, str]) -> None:
        if otel_trace.get_current_span().get_span_context().is_valid:
            return  # server instrumentation (or the caller) already made a span current
        checked = {}
        for field in trace_fields():
            value = headers.get(field)
            if value is not None and check_trace_value(field, value) is None:
                checked[field] = value
        if not checked:
            return
        try:
            inbound = propagate.extract(checked, context=otel_context.get_current())
        except Exception:  # a broken propagator must not fail the request
            return
        self._scope.attach_trace(inbound)

    def bind(self, bindings: RequestBindings | object) -> None:
        """Bind a hook's result for this request (see :func:`bind_request_values`)."""
        bind_request_values(bindings)
        self._baseline = contextvars.copy_context()

    def learn(self) -> None:
        """Remember the structlog keys bound since entry (and the hook) as request keys.

        :meth:`exit` does this too; call it earlier when the client may send
        its next request before the scope exits (after the last response
        chunk, while a background task still runs). One C-level comparison
        when nothing was bound since.
        """
        baseline = self._baseline
        if baseline is None:
            return
        current = contextvars.copy_context()
        try:
            if current == baseline:
                return
        except Exception:  # a user __eq__ raised: look at every variable
            pass
        add, known, unbound = _request_keys.add, _request_keys.known, _logvars.UNBOUND
        for cvar, value in current.items():
            if (
                value is not unbound
                and cvar not in known
                and _logvars.is_log_var(cvar)
                and baseline.get(cvar, unbound) is not value
            ):
                add(cvar)

    def exit(self) -> None:
        """Put structlog keys, QueueVars and the OTel context back exactly as at entry."""
        self._baseline = None
        self._scope.close(_request_keys.add)


def bind_request_values(bindings: RequestBindings | object) -> None:
    """Bind a hook's result in the current context; never raises because of it.

    ``str`` keys are bound as structlog keys (and become request keys);
    ``QueueVar`` keys set the var. A key name that is not a valid carrier key,
    or a value a QueueVar refuses, is skipped with one warning on the
    ``ctxcarry`` logger naming the key (never the value). ``None`` binds nothing,
    and so does a structlog key whose value is ``None`` (an anonymous user's
    missing tenant leaves the key out of every line instead of writing
    ``null``); a QueueVar key set to ``None`` is set to ``None``.
    """
    if bindings is None:
        return
    problems: list[str] = []
    if type(bindings) is not dict and not isinstance(bindings, Mapping):
        problems.append(f"bindings are {type(bindings).__name__}, not a mapping")
    else:
        try:
            for key, value in bindings.items():
                _bind_one(key, value, problems)
        except Exception as exc:  # a hostile Mapping must not fail the request
            problems.append(f"bindings could not be read ({type(exc).__name__})")
    if problems:
        logger.warning(
            "ctxcarry request bindings dropped %d item(s): %s", len(problems), "; ".join(problems)
        )


def _bind_one(key: object, value: object, problems: list[str]) -> None:
    if isinstance(key, QueueVar):
        try:
            key.set(value)
        except Exception:
            problems.append(
                f"QueueVar {safe_name(key.name)}: a {type(value).__name__} value cannot travel"
            )
        return
    if not (type(key) is str and is_valid_key(key)):
        problems.append(f"structlog key {safe_name(key)}: not a valid key name")
        return
    cvar = _logvars.var_for(key)
    _request_keys.add(cvar)
    if value is Ellipsis:
        problems.append(f"structlog key {safe_name(key)}: Ellipsis cannot be bound")
    elif value is not None:
        cvar.set(value)


def call_bind_hook(hook: Callable[[T], object], argument: T) -> object:
    """Call a user's bind hook; an exception is reported and gives ``None``.

    A failing hook costs the request its bindings, never the request itself.
    """
    try:
        return hook(argument)
    except Exception as exc:
        report_hook_failure(hook, exc)
        return None


def report_hook_failure(hook: object, exc: BaseException) -> None:
    """Log (with traceback) that a bind hook raised; the request goes on without it."""
    logger.warning(
        "ctxcarry: bind hook %s raised %s; the request continues without its bindings",
        getattr(hook, "__qualname__", type(hook).__name__),
        type(exc).__name__,
        exc_info=exc,
    )
