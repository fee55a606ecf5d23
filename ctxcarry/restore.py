"""Extraction: restore a carrier around a block, then put everything back exactly.

On entry, every registered QueueVar is *replaced*: it holds the carried value
or its default, never a value left over in the worker. Carried structlog keys
are bound on top of the worker's own bindings, and the carried trace context is
attached. On exit -- normal or by exception -- QueueVars, structlog
contextvars and the OpenTelemetry context are exactly what they were before
entry, including keys the block bound itself, while bindings made outside the
block survive. Nothing is ever cleared blindly.

How: the entry state is an O(1) snapshot (``contextvars.copy_context()``).
Exit first undoes our own changes with their tokens, then compares the whole
context with the snapshot (one C-level comparison); only if the block changed
something does it walk the structlog and QueueVar ContextVars and put back
anything the block changed or added.

OpenTelemetry is touched only when a trace context is actually restored:
its token is then detached on exit, which also undoes any context the block
attached and left attached. When no trace is restored the OTel context is
left alone, so that other libraries' attach/detach pairs interleaving with
the block (Celery's signal receivers run in connection order, not nested)
are never undone or re-applied by it.
"""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog.contextvars
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from .names import name_allowance
from .problems import Problems, safe_name
from .queuecontext import QueueContext
from .queuevar import BACKING_PREFIX, CLEARED, registered_pairs

if TYPE_CHECKING:
    from .carrier import Carrier, TraceRestore

__all__ = ["Extraction", "detach_otel_context"]

_ABSENT: Any = object()
_OWNED_PREFIXES = ("structlog_", BACKING_PREFIX)
_STRUCTLOG_PREFIX = "structlog_"
_runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)


def detach_otel_context(
    token: contextvars.Token[Any], fallback: otel_context.Context | None
) -> None:
    """Detach an OTel token; if it belongs to another Context, re-attach ``fallback``.

    Shared by :class:`Extraction` and :mod:`ctxcarry.request_scope`: OTel's own
    ``detach`` only logs an ERROR for a token from another Context and leaves
    the context attached.
    """
    try:
        if _runtime is not None:
            _runtime.detach(token)
        else:  # pragma: no cover - OTel always has a runtime context today
            otel_context.detach(token)
    except Exception:
        if fallback is not None:
            otel_context.attach(fallback)


#: structlog's ContextVar per key name, learned from the tokens of the first
#: bind. Bounded: only admitted names are ever bound (see ``names``).
_log_vars: dict[str, contextvars.ContextVar[Any]] = {}


def _bind_log(log: Any, tokens: list[contextvars.Token[Any]]) -> None:
    """Bind structlog keys like ``bind_contextvars``, keeping the tokens."""
    log_vars = _log_vars
    for key, value in log.items():
        cvar = log_vars.get(key)
        if cvar is None:
            token = structlog.contextvars.bind_contextvars(**{key: value})[key]
            log_vars[key] = token.var
            tokens.append(token)
        else:
            tokens.append(cvar.set(value))


class Extraction:
    """The context manager returned by ``extract(carrier)``; yields a QueueContext.

    Use it once per task. It is not thread-safe: enter and exit it in the same
    thread (or asyncio task), as any ``with`` block is.
    """

    __slots__ = (
        "_carrier",
        "_entry",
        "_entry_otel",
        "_otel_token",
        "_raw",
        "_restore_trace",
        "_tokens",
    )

    def __init__(self, carrier: Carrier, raw: object, restore_trace: TraceRestore) -> None:
        self._carrier = carrier
        self._raw = raw
        self._restore_trace = restore_trace
        self._entry: contextvars.Context | None = None

    def __enter__(self) -> QueueContext:
        if self._entry is not None:
            raise RuntimeError("this extract() block is already active; make a new one")
        carrier = self._carrier
        decoded = carrier.decode(self._raw)  # raises here, before any change, when strict
        problems = Problems(decoded.dropped) if decoded.dropped else None
        log = decoded.log_context
        if log and not log.keys() <= name_allowance.known:  # new names: count them
            log, refused = _admitted_log(log, carrier.max_new_names)
            if refused:
                problems = Problems(decoded.dropped)
                problems.extend(refused)
        if problems:
            problems.raise_if_strict("ctxcarry.extract", carrier.strict)

        self._entry = contextvars.copy_context()
        tokens: list[contextvars.Token[Any]] = []
        self._tokens = tokens
        if carrier.carry_queuevars:
            _replace_queuevars(decoded.slots(), tokens)
        if log:
            _bind_log(log, tokens)
        self._entry_otel = self._otel_token = None
        headers = decoded.trace_headers
        if headers:
            restored = self._trace_context(headers)
            if restored is not None:
                self._entry_otel = otel_context.get_current()
                self._otel_token = otel_context.attach(restored)
        if problems:
            problems.warn("ctxcarry.extract")  # inside the restored context: it carries it
        return decoded

    def _trace_context(self, headers: Any) -> otel_context.Context | None:
        """The OTel context to attach for ``headers``, or ``None`` to leave OTel alone."""
        policy = self._restore_trace
        if policy == "never" or (
            policy == "if_no_active_span"
            and otel_trace.get_current_span().get_span_context().is_valid
        ):
            return None
        try:
            return propagate.extract(headers)
        except Exception as exc:  # a broken propagator must not stop the task
            message = f"trace context: propagator failed ({type(exc).__name__})"
            Problems([message]).warn("ctxcarry.extract")
            return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entry = self._entry
        if entry is None:
            return
        if self._otel_token is not None:
            detach_otel_context(self._otel_token, self._entry_otel)
        for token in reversed(self._tokens):
            try:
                token.var.reset(token)
            except ValueError:
                break  # tokens from another Context: the comparison below restores
        if not _unchanged_since(entry):
            _restore_owned(entry)
        self._entry = None


def _unchanged_since(entry: contextvars.Context) -> bool:
    """True when the current context equals ``entry`` (a fast C-level comparison).

    Unchanged values are the same objects and compare by identity, so no
    user ``__eq__`` runs unless the block changed a value; if one raises, we
    fall back to the full comparison.
    """
    try:
        return bool(contextvars.copy_context() == entry)
    except Exception:
        return False


def _restore_owned(entry: contextvars.Context) -> None:
    """Put every structlog and QueueVar ContextVar back to its value in ``entry``."""
    for cvar, value in contextvars.copy_context().items():
        if cvar.name.startswith(_OWNED_PREFIXES):
            before = entry.get(cvar, _ABSENT)
            if value is not before:
                if before is _ABSENT:
                    before = Ellipsis if cvar.name.startswith(_STRUCTLOG_PREFIX) else CLEARED
                cvar.set(before)


def _replace_queuevars(slots: Any, tokens: list[contextvars.Token[Any]]) -> None:
    """Every registered QueueVar: the carried slot, or cleared if it holds a value."""
    for var, cvar in registered_pairs():
        slot = slots.get(var)
        if slot is not None:
            tokens.append(cvar.set(slot))
        elif cvar.get() is not CLEARED:
            tokens.append(cvar.set(CLEARED))


def _admitted_log(log: Any, limit: int) -> tuple[Any, list[str]]:
    """The carried structlog keys the process-wide allowance admits, and the refusals.

    Returns ``log`` itself when every name is admitted, else a filtered copy,
    plus one problem line per refused name.
    """
    allow = name_allowance.allow
    refused = [key for key in log if not allow(key, limit)]
    if not refused:
        return log, []
    lines = [
        f"structlog key {safe_name(key)}: this process already created "
        f"max_new_names={limit} new key names"
        for key in refused
    ]
    return {key: value for key, value in log.items() if key not in refused}, lines
