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

The restore compares the current context with a snapshot taken at entry
instead of resetting tokens, because tokens fail when a framework moves the
request between contexts (asgiref copies a sync view's context changes back
to its caller).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union

import structlog.contextvars
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from .names import is_valid_key
from .problems import logger, safe_name
from .queuevar import BACKING_PREFIX, CLEARED, QueueVar, registered_vars
from .restore import detach_otel_context
from .trace import check_trace_value, trace_fields

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

_STRUCTLOG_PREFIX = "structlog_"
_OWNED_PREFIXES = (_STRUCTLOG_PREFIX, BACKING_PREFIX)
_ABSENT: Any = object()


def _structlog_var(key: str) -> contextvars.ContextVar[Any]:
    """structlog's ContextVar for ``key`` (created if needed), found through its public API."""
    return contextvars.Context().run(
        lambda: structlog.contextvars.bind_contextvars(**{key: None})[key].var
    )


class _RequestKeys:
    """The request keys: structlog ContextVars to unbind at every request entry.

    Readers iterate an immutable tuple; writers replace it under a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: frozenset[str] = frozenset()
        self.vars: tuple[contextvars.ContextVar[Any], ...] = ()
        self.known: frozenset[contextvars.ContextVar[Any]] = frozenset()

    def add(self, cvar: contextvars.ContextVar[Any]) -> None:
        if cvar.name in self._names:
            return
        with self._lock:
            if cvar.name in self._names or len(self._names) >= MAX_REQUEST_KEYS:
                return
            self._names = self._names | {cvar.name}
            self.vars = (*self.vars, cvar)
            self.known = self.known | {cvar}

    def names(self) -> frozenset[str]:
        prefix = len(_STRUCTLOG_PREFIX)
        return frozenset(name[prefix:] for name in self._names)


_request_keys = _RequestKeys()
_request_id_var = _structlog_var(REQUEST_ID_KEY)
_request_keys.add(_request_id_var)
#: Hook key names already checked, with structlog's ContextVar for each.
_bindable_vars: dict[str, contextvars.ContextVar[Any]] = {}


_queuevar_cache: tuple[tuple[object, ...], tuple[contextvars.ContextVar[Any], ...]] = ((), ())


def _queuevar_context_vars() -> tuple[contextvars.ContextVar[Any], ...]:
    """The ContextVars behind every registered QueueVar (cached per registry snapshot)."""
    global _queuevar_cache
    registered = registered_vars()
    cached_for, cvars = _queuevar_cache
    if cached_for is not registered:
        cvars = tuple(var.context_var for var in registered)
        _queuevar_cache = (registered, cvars)
    return cvars


def request_keys() -> frozenset[str]:
    """The structlog key names unbound at every request entry (see the module docstring)."""
    return _request_keys.names()


class RequestScope:
    """One request's context: clean baseline at :meth:`enter`, exact restore at :meth:`exit`.

    Enter and exit it in the same call frame (one middleware call around the
    rest of the application), never across separate hooks.
    """

    __slots__ = ("_entry", "_entry_otel", "_entry_size", "_otel_token", "request_id")

    def __init__(self) -> None:
        self._entry: contextvars.Context | None = None
        self._otel_token: contextvars.Token[Any] | None = None
        self.request_id = ""

    def enter(self, request_id: str, trace_headers: Mapping[str, str] | None = None) -> None:
        """Reset to the baseline, bind ``request_id``, maybe attach the inbound trace.

        ``trace_headers`` are the request's W3C trace headers (lowercase names),
        given only when the middleware is configured to trust them.
        """
        if self._entry is not None:
            raise RuntimeError("this RequestScope is already open")
        self._entry = contextvars.copy_context()
        for cvar in _request_keys.vars:
            if cvar.get() is not Ellipsis:
                cvar.set(Ellipsis)
        for queuevar_cvar in _queuevar_context_vars():
            if queuevar_cvar.get() is not CLEARED:
                queuevar_cvar.set(CLEARED)
        _request_id_var.set(request_id)
        self.request_id = request_id
        if trace_headers:
            self._attach_inbound_trace(trace_headers)
        self._entry_size = len(contextvars.copy_context())

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
        current = otel_context.get_current()
        try:
            inbound = propagate.extract(checked, context=current)
        except Exception:  # a broken propagator must not fail the request
            return
        self._entry_otel = current
        self._otel_token = otel_context.attach(inbound)

    def bind(self, bindings: RequestBindings | object) -> None:
        """Bind a hook's result for this request (see :func:`bind_request_values`)."""
        bind_request_values(bindings)
        self._entry_size = len(contextvars.copy_context())

    def learn(self) -> None:
        """Remember the structlog keys bound since entry as request keys.

        :meth:`exit` does this too; call it earlier when the client may send
        its next request before the scope exits (after the last response chunk).
        It looks only when a new variable appeared since entry; a key that was
        bound at entry and rebound since is learned by :meth:`exit`.
        """
        entry = self._entry
        current = contextvars.copy_context()
        if entry is None or len(current) == self._entry_size:
            return  # no new variable since entry: any key bound is known already
        for cvar, value in current.items():
            if (
                value is not Ellipsis
                and cvar.name.startswith(_STRUCTLOG_PREFIX)
                and entry.get(cvar, _ABSENT) is not value
            ):
                _request_keys.add(cvar)

    def exit(self) -> None:
        """Put structlog keys, QueueVars and the OTel context back exactly as at entry."""
        entry = self._entry
        if entry is None:
            return
        self._entry = None
        if self._otel_token is not None:
            detach_otel_context(self._otel_token, self._entry_otel)
            self._otel_token = None
        owned, structlog_prefix, absent = _OWNED_PREFIXES, _STRUCTLOG_PREFIX, _ABSENT
        known = _request_keys.known
        for cvar, value in contextvars.copy_context().items():
            name = cvar.name
            if not name.startswith(owned):
                continue
            before = entry.get(cvar, absent)
            if value is before:
                continue
            if name.startswith(structlog_prefix):
                if value is not Ellipsis and cvar not in known:
                    _request_keys.add(cvar)
                if before is absent:
                    if value is Ellipsis:
                        continue
                    before = Ellipsis
            elif before is absent:
                if value is CLEARED:
                    continue
                before = CLEARED
            cvar.set(before)


def bind_request_values(bindings: RequestBindings | object) -> None:
    """Bind a hook's result in the current context; never raises because of it.

    ``str`` keys are bound as structlog keys (and become request keys);
    ``QueueVar`` keys set the var. A key name that is not a valid carrier key,
    or a value a QueueVar refuses, is skipped with one warning on the
    ``ctxcarry`` logger naming the key (never the value). ``None`` binds nothing.
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
    cvar = _bindable_vars.get(key) if type(key) is str else None
    if cvar is None:
        if not (isinstance(key, str) and is_valid_key(key)):
            problems.append(f"structlog key {safe_name(key)}: not a valid key name")
            return
        cvar = _structlog_var(key)
        _request_keys.add(cvar)
        if len(_bindable_vars) < MAX_REQUEST_KEYS:
            _bindable_vars[key] = cvar
    if value is Ellipsis:
        problems.append(f"structlog key {safe_name(key)}: Ellipsis cannot be bound")
    else:
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
