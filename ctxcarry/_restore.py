"""Extraction: restore a carrier around a block, then put everything back exactly.

On entry, every registered QueueVar is *replaced*: it holds the carried value
or its default, never a value left over in the worker. Carried structlog keys
are bound on top of the worker's own bindings, and the carried trace context is
attached (per the trace policy). On exit -- normal or by exception, and also
when blocks exit out of order -- QueueVars, structlog contextvars and the
OpenTelemetry context are exactly what they were before entry, including keys
the block bound itself, while bindings made outside the block survive. The
restoring is the engine's (:mod:`ctxcarry._scope`); this module decides what
to set.

An :class:`Extraction` is a ``with`` block for code, and a pair of calls,
:meth:`~Extraction.enter` and :meth:`~Extraction.exit`, for adapters whose
queue offers a hook before and a hook after each task.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Protocol

from opentelemetry import trace as otel_trace

from . import _logvars
from ._forward import forwarded
from ._names import name_allowance
from ._problems import Problems, safe_name
from ._queuecontext import QueueContext
from ._queuevar import CLEARED, registered_pairs
from ._scope import Scope
from ._trace import extract_trace

__all__ = ["TRACE_POLICIES", "Decoder", "Extraction", "TraceRestore"]

#: When extract attaches the carried trace context: ``"always"``; only when no
#: span is active already (``"if_no_active_span"``, for workers whose own
#: instrumentation already started a span for the task); or ``"never"``.
TraceRestore = Literal["always", "if_no_active_span", "never"]
TRACE_POLICIES: tuple[TraceRestore, ...] = ("always", "if_no_active_span", "never")
_POLICY_NAMES = frozenset(TRACE_POLICIES)


class Decoder(Protocol):
    """What an Extraction needs of its :class:`~ctxcarry.Carrier`."""

    @property
    def strict(self) -> bool: ...
    @property
    def max_new_names(self) -> int: ...
    @property
    def carry_queuevars(self) -> bool: ...
    def decode(self, carrier: object) -> QueueContext: ...


def check_trace_policy(policy: object) -> TraceRestore:
    """``policy`` if it is one of :data:`TRACE_POLICIES`, else ``ValueError``."""
    if type(policy) is str and policy in _POLICY_NAMES:
        return policy
    for known in TRACE_POLICIES:
        if policy == known:
            return known
    raise ValueError(f"unknown restore_trace {policy!r}; use one of {TRACE_POLICIES}")


class Extraction(Scope):
    """Restores one carrier for a block; returned by ``extract(carrier)``.

    ``with extract(carrier) as context:`` yields the :class:`QueueContext`.
    Adapters that get a hook before and a hook after each task call
    :meth:`enter` and :meth:`exit` instead (see :mod:`ctxcarry.kit`). Use it
    once per task; it is not thread-safe (enter and exit it in the same thread
    or asyncio task, as any ``with`` block is).

    It is the engine's :class:`~ctxcarry._scope.Scope` itself (one object per
    task): entering decides what to set, and the scope restores it.

    ``decoder=None`` makes a *guard*: it restores nothing and only undoes, at
    exit, whatever the block bound (for a task that runs in its caller's
    context, such as an eager Celery task without a carrier).
    """

    __slots__ = ("_decoder", "_raw", "_restore_trace", "context")

    def __init__(
        self, decoder: Decoder | None, raw: object, restore_trace: TraceRestore = "always"
    ) -> None:
        self.snapshot = None  # Scope.__init__, without the call (once per task)
        self._otel_token = None
        self._decoder = decoder
        self._raw = raw
        policy: object = restore_trace  # a caller's value: only typed, not checked
        if type(policy) is not str or policy not in _POLICY_NAMES:
            restore_trace = check_trace_policy(policy)  # raises, or an equal one
        self._restore_trace = restore_trace
        #: What the carrier held (``None`` until entered).
        self.context: QueueContext | None = None

    def enter(self, *, bind: Mapping[str, object] | None = None) -> QueueContext:
        """Restore the carrier; return what it held.

        ``bind`` holds structlog keys to bind for the block on top of what was
        restored, before any warning is logged, so the warning carries them
        (an adapter passes the task's identity here). They are undone at exit
        like everything else, with their own tokens (the fast way).

        Raises only :class:`~ctxcarry.CarrierError`, and only with a strict
        Carrier, before anything changed. A second ``enter`` raises
        ``RuntimeError``.
        """
        if self.snapshot is not None:
            raise RuntimeError("this extract() block is already active; make a new one")
        decoder = self._decoder
        if decoder is None:
            self.open()
            if bind:
                self._bind(bind)
            self.context = QueueContext()
            return self.context
        decoded = decoder.decode(self._raw)  # raises here, before any change, when strict
        problems = Problems(decoded.dropped) if decoded.dropped else None
        log = decoded.log_context
        if log and not log.keys() <= name_allowance.known:  # new names: count them
            log, refused = _admitted_log(log, decoder.max_new_names)
            if refused:
                problems = Problems(decoded.dropped)
                problems.extend(refused)
        if problems:
            problems.raise_if_strict("ctxcarry.extract", decoder.strict)

        self.open()
        append = self.tokens.append  # self.set() without a call per variable
        if decoder.carry_queuevars:  # replace semantics: carried, or cleared if set here
            slots = decoded._checked_slots()
            for var, cvar in registered_pairs():
                slot = slots.get(var)
                if slot is not None:
                    append(cvar.set(slot))
                elif cvar.get() is not CLEARED:
                    append(cvar.set(CLEARED))
            carried = decoded._unknown  # unregistered vars: forwarded by inject, replaced
            if carried:
                append(forwarded.set(carried))
            elif forwarded.get() is not CLEARED:
                append(forwarded.set(CLEARED))
        if log:
            cached, var_for = _logvars.cached, _logvars.var_for
            for key, value in log.items():
                append((cached.get(key) or var_for(key)).set(value))
        headers = decoded.trace_headers
        if headers and self._restore_trace != "never":
            self._attach_carried_trace(headers)
        if bind:
            self._bind(bind)
        if problems:
            problems.warn("ctxcarry.extract")  # inside the restored context: it carries it
        self.context = decoded
        return decoded

    def _bind(self, values: Mapping[str, object] | None) -> None:
        if values:
            append = self.tokens.append
            for key, value in values.items():
                append(_logvars.var_for(key).set(value))

    def _attach_carried_trace(self, headers: Any) -> None:
        if (
            self._restore_trace == "if_no_active_span"
            and otel_trace.get_current_span().get_span_context().is_valid
        ):
            return
        try:
            restored = extract_trace(headers)
        except Exception as exc:  # a broken propagator must not stop the task
            message = f"trace context: propagator failed ({type(exc).__name__})"
            Problems([message]).warn("ctxcarry.extract")
            return
        self.attach_trace(restored)

    def exit(self) -> None:
        """Put the context back exactly as it was before :meth:`enter`. Never raises."""
        self.close()

    __enter__ = enter  # ``with extract(...)``: enter() itself, one call less per task

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
