"""Helpers for your own tests: cross the queue without a broker, and catch leaks.

* :func:`across_queue` runs a ``with`` block as a worker would run a task that
  was enqueued here: it injects the current context, sends the carrier through
  a JSON round trip (as a broker would), blanks the context as a fresh worker
  would have it, and runs the block inside :func:`ctxcarry.extract`. Afterwards
  the caller's context is exactly as before.
* :func:`run_across_queue` does the same for a function, in a brand-new
  :class:`contextvars.Context` (the strictest stand-in for a worker thread).
* :func:`assert_no_leak` and :class:`ContextSnapshot` check that a block left
  QueueVars, structlog contextvars and the OpenTelemetry context as it found them.

With pytest, this module is also a plugin (installed with ctxcarry, see
``docs/testing.md``) that provides the fixtures ``ctxcarry_no_leak``,
``ctxcarry_strict`` and ``ctxcarry_across_queue``. pytest is imported only when
it is installed; the rest of the module works without it.
"""

from __future__ import annotations

import contextvars
import importlib.util
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import structlog.contextvars
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from ._carrier import Carrier, TraceRestore, get_default_carrier, set_default_carrier
from ._queuecontext import QueueContext
from ._queuevar import registered_vars

__all__ = [
    "ContextSnapshot",
    "across_queue",
    "assert_no_leak",
    "run_across_queue",
    "strict_default_carrier",
]

P = ParamSpec("P")
R = TypeVar("R")

_UNSET: Any = object()


def _over_the_wire(carrier: Carrier) -> dict[str, Any]:
    """Inject, then serialise and parse the carrier as a JSON broker message would."""
    return json.loads(json.dumps(carrier.inject()))  # type: ignore[no-any-return]


@contextmanager
def _blank_worker_context() -> Iterator[None]:
    """Within the block: no QueueVar set, no structlog key bound, no OTel context.

    Undone exactly (with tokens) afterwards, however the block exits.
    """
    var_tokens = [(var, var.clear()) for var in registered_vars() if var.is_set()]
    bound = structlog.contextvars.get_contextvars()
    # Binding Ellipsis is how structlog marks a key unbound; it returns reset tokens.
    log_tokens = structlog.contextvars.bind_contextvars(**dict.fromkeys(bound, Ellipsis))
    otel_token = otel_context.attach(otel_context.Context())
    try:
        yield
    finally:
        otel_context.detach(otel_token)
        structlog.contextvars.reset_contextvars(**log_tokens)
        for var, token in reversed(var_tokens):
            var.reset(token)


@contextmanager
def across_queue(
    carrier: Carrier | None = None, *, restore_trace: TraceRestore | None = None
) -> Iterator[QueueContext]:
    """Run the block as the task a worker runs after this context is enqueued.

    Yields the :class:`~ctxcarry.QueueContext` the worker decoded. Inside the
    block, only what travelled is bound: a QueueVar or structlog key that did
    not fit the carrier, or could not be serialised, is missing there just as
    it would be on a real worker. ``carrier`` defaults to the default Carrier.

    >>> from ctxcarry import QueueVar
    >>> testing_doc_tenant = QueueVar("testing_doc_tenant", default=None)
    >>> with testing_doc_tenant("acme"), across_queue():
    ...     testing_doc_tenant.get()
    'acme'
    """
    config = carrier or get_default_carrier()
    wire = _over_the_wire(config)
    with _blank_worker_context(), config.extract(wire, restore_trace=restore_trace) as received:
        yield received


def run_across_queue(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``fn`` as a worker would after the current context crossed the queue.

    ``fn`` runs in a brand-new :class:`contextvars.Context` (nothing bound, as
    in a fresh worker thread) inside :func:`ctxcarry.extract`, with the default
    Carrier. Returns what ``fn`` returns.
    """
    config = get_default_carrier()
    wire = _over_the_wire(config)
    return contextvars.Context().run(config.run, wire, fn, *args, **kwargs)


@dataclass(frozen=True)
class ContextSnapshot:
    """What ctxcarry can change in the current context, at one moment.

    Take one before and one after a block; :meth:`differences` lists what
    changed, in words.
    """

    queuevars: Mapping[str, Any]
    structlog: Mapping[str, Any]
    otel: otel_context.Context

    @classmethod
    def take(cls) -> ContextSnapshot:
        """Snapshot the QueueVars, structlog contextvars and OTel context now."""
        return cls(
            queuevars={v.name: v.get() for v in registered_vars() if v.is_set()},
            structlog=structlog.contextvars.get_contextvars(),
            otel=otel_context.get_current(),
        )

    def differences(self, later: ContextSnapshot) -> list[str]:
        """One line per QueueVar, structlog key or OTel change from ``self`` to ``later``."""
        lines = _mapping_changes("QueueVar", self.queuevars, later.queuevars)
        lines += _mapping_changes("structlog key", self.structlog, later.structlog)
        if later.otel is not self.otel and later.otel != self.otel:
            lines.append(
                f"OpenTelemetry context changed: {_describe_otel(self.otel)} -> "
                f"{_describe_otel(later.otel)}"
            )
        return lines


def _mapping_changes(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    lines = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name, _UNSET), after.get(name, _UNSET)
        if old is new or (old is not _UNSET and new is not _UNSET and _same(old, new)):
            continue
        if old is _UNSET:
            lines.append(f"{kind} {name!r} leaked: now bound to {new!r}")
        elif new is _UNSET:
            lines.append(f"{kind} {name!r} was unbound (it was {old!r})")
        else:
            lines.append(f"{kind} {name!r} changed: {old!r} -> {new!r}")
    return lines


def _same(old: Any, new: Any) -> bool:
    try:
        return bool(old == new)
    except Exception:
        return False


def _describe_otel(context: otel_context.Context) -> str:
    span = otel_trace.get_current_span(context).get_span_context()
    parts = [
        f"span {span.span_id:016x} in trace {span.trace_id:032x}" if span.is_valid else "no span"
    ]
    carried = baggage.get_all(context)
    if carried:
        parts.append(f"baggage {sorted(carried)}")
    return ", ".join(parts)


@contextmanager
def assert_no_leak() -> Iterator[ContextSnapshot]:
    """Fail with ``AssertionError`` if the block leaves the context changed.

    Checks every registered QueueVar, every structlog contextvar and the
    current OpenTelemetry context. Yields the snapshot taken on entry.
    """
    before = ContextSnapshot.take()
    yield before
    changes = before.differences(ContextSnapshot.take())
    if changes:
        raise AssertionError("context leaked out of the block:\n  " + "\n  ".join(changes))


@contextmanager
def strict_default_carrier() -> Iterator[Carrier]:
    """Make the default Carrier strict for the block (drops raise ``CarrierError``)."""
    previous = set_default_carrier(get_default_carrier().replace(strict=True))
    try:
        yield get_default_carrier()
    finally:
        set_default_carrier(previous)


if importlib.util.find_spec("pytest") is not None:
    import pytest

    @pytest.fixture
    def ctxcarry_no_leak() -> Iterator[ContextSnapshot]:
        """Fail the test if it ends with the context changed (QueueVars, structlog, OTel)."""
        with assert_no_leak() as before:
            yield before

    @pytest.fixture
    def ctxcarry_strict() -> Iterator[Carrier]:
        """The default Carrier, strict for this test: anything dropped raises CarrierError."""
        with strict_default_carrier() as carrier:
            yield carrier

    @pytest.fixture
    def ctxcarry_across_queue() -> Callable[..., Any]:
        """:func:`across_queue`, as a fixture: ``with ctxcarry_across_queue() as ctx: ...``."""
        return across_queue
