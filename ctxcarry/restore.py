"""Extraction: restore a carrier around a block, then put everything back exactly.

On entry, every registered QueueVar is *replaced*: it holds the carried value
or its default, never a value left over in the worker. Carried structlog keys
are bound on top of the worker's own bindings, and the carried trace context is
attached. On exit -- normal or by exception -- QueueVars, structlog
contextvars and the OpenTelemetry context are exactly what they were before
entry, including keys the block bound itself, while bindings made outside the
block survive. Nothing is ever cleared blindly.

How: the entry state is an O(1) snapshot (``contextvars.copy_context()``).
Exit first undoes our own changes with their tokens, then compares every
structlog and QueueVar ContextVar against the snapshot and puts back anything
the block changed or added.
"""

from __future__ import annotations

import contextlib
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
from .queuevar import BACKING_PREFIX, CLEARED, registered_vars

if TYPE_CHECKING:
    from .carrier import Carrier, TraceRestore

__all__ = ["Extraction"]

_ABSENT: Any = object()
_OWNED_PREFIXES = ("structlog_", BACKING_PREFIX)
_STRUCTLOG_PREFIX = "structlog_"
_runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)


def _detach(token: contextvars.Token[Any], fallback: otel_context.Context) -> None:
    """Detach our OTel token; if it belongs to another Context, re-attach the entry value."""
    try:
        if _runtime is not None:
            _runtime.detach(token)
        else:  # pragma: no cover - OTel always has a runtime context today
            otel_context.detach(token)
    except Exception:
        otel_context.attach(fallback)


class Extraction:
    """The context manager returned by ``extract(carrier)``; yields a QueueContext.

    Use it once per task. It is not thread-safe: enter and exit it in the same
    thread (or asyncio task), as any ``with`` block is.
    """

    __slots__ = (
        "_carrier",
        "_entry",
        "_entry_otel",
        "_log_tokens",
        "_otel_token",
        "_raw",
        "_restore_trace",
        "_var_tokens",
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
        problems = Problems()
        problems.items.extend(decoded.dropped)
        log = _admitted_log(decoded.log_context, carrier.max_new_names, problems)
        problems.raise_if_strict("ctxcarry.extract", carrier.strict)

        self._entry = contextvars.copy_context()
        self._entry_otel = otel_context.get_current()
        self._var_tokens = self._replace_queuevars(decoded) if carrier.carry_queuevars else []
        self._log_tokens = structlog.contextvars.bind_contextvars(**log) if log else None
        self._otel_token = otel_context.attach(self._trace_context(decoded, problems))
        problems.warn("ctxcarry.extract")  # inside the restored context: the line carries it
        return decoded

    @staticmethod
    def _replace_queuevars(decoded: QueueContext) -> list[tuple[Any, contextvars.Token[Any]]]:
        slots = decoded.slots()
        tokens = []
        for var in registered_vars():
            cvar = var.context_var
            slot = slots.get(var)
            if slot is not None:
                tokens.append((cvar, cvar.set(slot)))
            elif cvar.get() is not CLEARED:
                tokens.append((cvar, cvar.set(CLEARED)))
        return tokens

    def _trace_context(self, decoded: QueueContext, problems: Problems) -> otel_context.Context:
        headers = decoded.trace_headers
        policy = self._restore_trace
        if not headers or policy == "never":
            return self._entry_otel
        if (
            policy == "if_no_active_span"
            and otel_trace.get_current_span().get_span_context().is_valid
        ):
            return self._entry_otel
        try:
            return propagate.extract(headers)
        except Exception as exc:  # a broken propagator must not stop the task
            problems.add(f"trace context: propagator failed ({type(exc).__name__})")
            return self._entry_otel

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entry = self._entry
        if entry is None:
            return
        _detach(self._otel_token, self._entry_otel)
        if self._log_tokens:
            # Tokens from another Context raise ValueError: the comparison below restores.
            with contextlib.suppress(ValueError):
                structlog.contextvars.reset_contextvars(**self._log_tokens)
        for cvar, token in reversed(self._var_tokens):
            with contextlib.suppress(ValueError):
                cvar.reset(token)
        for cvar, value in contextvars.copy_context().items():
            if cvar.name.startswith(_OWNED_PREFIXES):
                before = entry.get(cvar, _ABSENT)
                if value is not before:
                    if before is _ABSENT:
                        before = Ellipsis if cvar.name.startswith(_STRUCTLOG_PREFIX) else CLEARED
                    cvar.set(before)
        self._entry = None


def _admitted_log(log: Any, limit: int, problems: Problems) -> dict[str, Any]:
    """The carried structlog keys whose names the process-wide allowance admits."""
    if not log:
        return {}
    admitted = {}
    for key, value in log.items():
        if name_allowance.allow(key, limit):
            admitted[key] = value
        else:
            problems.add(
                f"structlog key {safe_name(key)}: this process already created "
                f"max_new_names={limit} new key names"
            )
    return admitted
