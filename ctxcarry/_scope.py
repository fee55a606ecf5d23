"""The restore engine: snapshot what ctxcarry owns, then put it back exactly.

ctxcarry owns two kinds of ContextVar: structlog's (one per key) and the ones
behind QueueVars. A :class:`Scope` takes an O(1) snapshot of the whole context
when it opens (``contextvars.copy_context()``) and, when it closes, puts every
owned var back to its value in the snapshot -- whatever the block bound,
rebound or cleared in between -- and detaches the OpenTelemetry context if,
and only if, it attached one. Bindings made outside the block are never
touched, and nothing is ever cleared blindly. Everything in ctxcarry that
restores is a Scope: ``extract``, the request scope of the middlewares, and
streaming bodies replayed in a request's context.

Closing is cheap in the common case: the scope's own changes are undone with
their tokens, then one C-level comparison of the whole context with the
snapshot decides whether anything else changed; only then are the owned vars
walked.

Out-of-order exits. Scopes opened in one context are kept on a stack (a
ContextVar). When a scope closes while a later one is still open -- two
generators, each inside ``with extract(...)``, closed in the order they were
opened -- it undoes only what changed before the later scope opened, keeps
what the later scope's block changed, and hands its own snapshot to the later
scope, which then restores to it. So however the blocks interleave, after the
last one closes the caller holds exactly what it held before the first opened.

OpenTelemetry is touched only when a scope attached a trace context itself, so
other libraries' attach/detach pairs that interleave with the block (Celery's
signal receivers run in connection order, not nested) are never undone or
re-applied by it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context

from . import _logvars
from ._queuevar import BACKING_PREFIX, CLEARED

__all__ = ["OWNED_PREFIXES", "LearnHook", "Scope"]

#: Name prefixes of the ContextVars a Scope restores.
OWNED_PREFIXES = (_logvars.PREFIX, BACKING_PREFIX)

#: Called with each structlog ContextVar a closing scope found bound by its block.
LearnHook = Callable[["contextvars.ContextVar[Any]"], None]

_ABSENT: Any = object()
_otel_runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)


class Scope:
    """One block's worth of owned context: snapshot at :meth:`open`, exact restore at :meth:`close`.

    Set variables for the block with :meth:`set` (undone with their tokens),
    attach a trace context with :meth:`attach_trace`. Not thread-safe: open and
    close it in the same thread or asyncio task, as any ``with`` block is.
    :class:`~ctxcarry._restore.Extraction` is a Scope (one object per task,
    not two); so is nothing else, the request scope and replays hold one.
    """

    __slots__ = (
        "__weakref__",
        "_below",
        "_otel_before",
        "_otel_by_token",
        "_otel_token",
        "_stack_dirty",
        "_stack_token",
        "snapshot",
        "tokens",
    )

    def __init__(self) -> None:
        #: The context as it was at :meth:`open` (``None`` while the scope is closed).
        self.snapshot: contextvars.Context | None = None
        self._otel_token: contextvars.Token[Any] | None = None

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self.snapshot is not None

    @property
    def attached_trace(self) -> bool:
        """True while the scope holds a trace context it attached itself."""
        return self._otel_token is not None

    def open(self) -> None:
        """Take the snapshot; from now on :meth:`close` restores to it."""
        if self.snapshot is not None:
            raise RuntimeError("this scope is already open; make a new one")
        self.snapshot = contextvars.copy_context()
        #: Tokens of what the block set through this scope, undone first at close
        #: (``tokens.append(cvar.set(value))`` is :meth:`set` without the call).
        self.tokens: list[contextvars.Token[Any]] = []
        self._stack_dirty = False
        self._below: Scope | None = _top_scope.get()
        self._stack_token = _top_scope.set(self)

    def set(self, cvar: contextvars.ContextVar[Any], value: Any) -> None:
        """Set ``cvar`` for the block (undone at close)."""
        self.tokens.append(cvar.set(value))

    def replay(self, context: contextvars.Context) -> None:
        """Set every variable of ``context`` that differs here, for the block."""
        entry = self.snapshot
        assert entry is not None, "replay() needs an open scope"
        for cvar, value in context.items():
            if cvar is not _top_scope and entry.get(cvar, _ABSENT) is not value:
                self.tokens.append(cvar.set(value))

    def attach_trace(self, context: otel_context.Context) -> None:
        """Make ``context`` the current OpenTelemetry context for the block."""
        self._otel_before = otel_context.get_current()
        self._otel_token = otel_context.attach(context)
        self._otel_by_token = True

    def close(self, learn: LearnHook | None = None) -> None:
        """Restore every owned var to the snapshot and detach our trace context.

        ``learn`` is called with each structlog ContextVar the block left bound
        (the request scope learns request keys this way). Never raises.
        """
        entry = self.snapshot
        if entry is None:
            return
        self.snapshot = None
        if _top_scope.get() is not self:
            open_scopes = _open_scopes()
            if any(scope is self for scope in open_scopes):
                self._close_out_of_order(entry, open_scopes, learn)
            else:  # closed in another Context than it was opened in: compare and restore
                self._detach_trace()
                _restore_owned(entry, learn)
            return
        # In order, the common case (inline: this runs once per task).
        if self._otel_token is not None:
            self._detach_trace()
        if self._stack_dirty:  # a scope below closed out of order: the token's value is stale
            _top_scope.set(self._below)
        else:
            try:
                _top_scope.reset(self._stack_token)
            except ValueError:  # a token of another Context (a framework copied ours)
                _top_scope.set(self._below)
        for token in reversed(self.tokens):
            try:
                token.var.reset(token)
            except ValueError:
                break  # tokens from another Context: the comparison below restores
        self.tokens = []
        try:
            unchanged = contextvars.copy_context() == entry  # one C-level comparison
        except Exception:  # a user __eq__ raised on a changed value: walk
            unchanged = False
        if not unchanged:
            _restore_owned(entry, learn)

    def _close_out_of_order(
        self, entry: contextvars.Context, open_scopes: list[Scope], learn: LearnHook | None
    ) -> None:
        """Undo what changed before the next scope opened; hand that scope our snapshot."""
        index = next(i for i, scope in enumerate(open_scopes) if scope is self)
        later = open_scopes[index + 1]
        later_entry = later.snapshot
        # Unlink: the scope just above now sits on ours; its token's old value
        # (this scope) is stale, so it sets the top itself when it closes.
        later._below = self._below
        later._stack_dirty = True
        self.tokens = []
        if later_entry is None:  # the later scope was closed elsewhere: plain restore
            self._detach_trace()
            _restore_owned(entry, learn)
            return
        for cvar, value in contextvars.copy_context().items():
            if not cvar.name.startswith(OWNED_PREFIXES):
                continue
            if value is not later_entry.get(cvar, _ABSENT):
                continue  # changed since the later scope opened: the later block's own
            _put_back(cvar, value, entry.get(cvar, _ABSENT), learn)
        if self._otel_token is not None:
            self._otel_token = None
            if otel_context.get_current() is later_entry.run(otel_context.get_current):
                _set_otel(self._otel_before)
            if later._otel_token is not None:
                later._otel_before = self._otel_before
                later._otel_by_token = False
        later.snapshot = entry

    def _detach_trace(self) -> None:
        token = self._otel_token
        if token is None:
            return
        self._otel_token = None
        if self._otel_by_token:
            _detach(token, self._otel_before)
        else:  # rebased by an out-of-order close: the token's old value is stale
            _set_otel(self._otel_before)


#: The innermost scope open in the current context; each links to the one below.
_top_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "ctxcarry_open_scopes", default=None
)


def _open_scopes() -> list[Scope]:
    """The scopes open in the current context, oldest first."""
    scopes = []
    scope = _top_scope.get()
    while scope is not None:
        scopes.append(scope)
        scope = scope._below
    scopes.reverse()
    return scopes


def _restore_owned(entry: contextvars.Context, learn: LearnHook | None) -> None:
    """Put every owned ContextVar back to its value in ``entry``."""
    owned = OWNED_PREFIXES
    for cvar, value in contextvars.copy_context().items():
        if cvar.name.startswith(owned):
            _put_back(cvar, value, entry.get(cvar, _ABSENT), learn)


def _put_back(
    cvar: contextvars.ContextVar[Any], value: Any, before: Any, learn: LearnHook | None
) -> None:
    """Set ``cvar`` back to ``before`` (its unbound marker when it did not exist)."""
    if value is before:
        return
    is_log = _logvars.is_log_var(cvar)
    if learn is not None and is_log and value is not _logvars.UNBOUND:
        learn(cvar)
    if before is _ABSENT:
        before = _logvars.UNBOUND if is_log else CLEARED
        if value is before:
            return
    cvar.set(before)


def _set_otel(context: otel_context.Context | None) -> None:
    """Make ``context`` current without a token (the value to go back to is known)."""
    if context is not None:
        otel_context.attach(context)


def _detach(token: contextvars.Token[Any], fallback: otel_context.Context | None) -> None:
    """Detach an OTel token; if it belongs to another Context, re-attach ``fallback``.

    OTel's own ``detach`` only logs an ERROR for a token from another Context
    and leaves the context attached.
    """
    try:
        if _otel_runtime is not None:
            _otel_runtime.detach(token)
        else:  # pragma: no cover - OTel always has a runtime context today
            otel_context.detach(token)
    except Exception:
        _set_otel(fallback)
