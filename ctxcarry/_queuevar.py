"""QueueVar: a context variable whose value travels with every enqueued task.

A QueueVar is registered by name when it is created, so that a worker can find
it again by the name on the wire. Its value is checked and captured when it is
set: a value that cannot travel as JSON is refused there, with a ``TypeError``
naming the var, rather than later at enqueue time in some other module.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import warnings
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from ._jsonvalue import JSONValue, NotJSON, snapshot_exact
from ._names import MAX_KEY_LENGTH, is_valid_key
from .codecs import Codec, IntRangeCodec, JSONCodec

__all__ = ["BACKING_PREFIX", "QueueVar", "QueueVarBinding", "priority", "registered_vars"]

T = TypeVar("T")
V = TypeVar("V")
if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVarWithDefault

    # The type of ``QueueVar(name, default=None)`` where no annotation says another:
    # ``QueueVar[str | None]``. Two spellings of it, one for each checker (see QueueVar).
    StrDefault = _TypeVarWithDefault("StrDefault", default=str)
    OptionalStrDefault = _TypeVarWithDefault("OptionalStrDefault", default=str | None)
else:
    StrDefault = TypeVar("StrDefault")
    OptionalStrDefault = TypeVar("OptionalStrDefault")

#: Prefix of the name of the ContextVar behind each QueueVar. It must never be
#: ``structlog_`` (structlog would show the var as a log key).
BACKING_PREFIX = "ctxcarry:"

#: What a QueueVar's ContextVar holds when the var is set: the value ``get()``
#: returns, its JSON snapshot, and that snapshot's encoded size.
Slot = tuple[Any, JSONValue, int]


class _ClearedType:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<cleared>"


#: Held by a QueueVar's ContextVar when the var is unset: ``get()`` gives the default.
CLEARED: Any = _ClearedType()

_MISSING: Any = object()

_registry_lock = threading.Lock()
#: Registered QueueVars by name (internal: other modules use ``lookup``;
#: ``carrier`` reads it directly on extract's hot path).
_by_name: dict[str, QueueVar[Any]] = {}
#: The name of the QueueVar behind each backing ContextVar (identity, not name, decides).
backing_names: dict[contextvars.ContextVar[Any], str] = {}
_all_vars: tuple[QueueVar[Any], ...] = ()
#: ``(QueueVar, its ContextVar)`` for every registered var: extract's hot loop.
_all_pairs: tuple[tuple[QueueVar[Any], contextvars.ContextVar[Any]], ...] = ()


def _deprecated(name: str) -> None:
    warnings.warn(
        f"{name} is internal to ctxcarry and will be removed", DeprecationWarning, stacklevel=3
    )


def __getattr__(name: str) -> Any:
    if name == "registry_by_name":  # the old public-looking name of ``_by_name``
        _deprecated("ctxcarry._queuevar.registry_by_name (use lookup())")
        return _by_name
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def registered_vars() -> tuple[QueueVar[Any], ...]:
    """Every registered QueueVar, in registration order (an immutable snapshot)."""
    return _all_vars


def registered_pairs() -> tuple[tuple[QueueVar[Any], contextvars.ContextVar[Any]], ...]:
    """Every registered QueueVar with its backing ContextVar (an immutable snapshot)."""
    return _all_pairs


def lookup(name: str) -> QueueVar[Any] | None:
    """The QueueVar registered under ``name``, or ``None``."""
    return _by_name.get(name)


def _register(var: QueueVar[Any]) -> None:
    global _all_vars, _all_pairs
    with _registry_lock:
        first = _by_name.get(var.name)
        if first is not None:
            module, where = first._origin
            raise ValueError(
                f"a QueueVar named {var.name!r} is already registered: the first one was "
                f"defined in module {module!r} at {where} (define each QueueVar once, in a "
                f"module every process imports under one name)"
            )
        _by_name[var.name] = var
        backing_names[var.context_var] = var.name
        _all_vars = (*_all_vars, var)
        _all_pairs = (*_all_pairs, (var, var.context_var))


def _definition_site() -> tuple[str, str]:
    """The module and ``file:line`` of the code creating a QueueVar (definition time only).

    The first frame outside ``QueueVar.__init__`` (and a subclass's): the
    module a worker must import to register the var, and where a duplicate's
    first definition is.
    """
    frame = sys._getframe(2)
    while (
        frame.f_back is not None
        and frame.f_code.co_name == "__init__"
        and isinstance(frame.f_locals.get("self"), QueueVar)
    ):
        frame = frame.f_back
    module = frame.f_globals.get("__name__")
    return (
        module if type(module) is str else "?",
        f"{frame.f_code.co_filename}:{frame.f_lineno}",
    )


class QueueVar(Generic[T]):
    """A context variable, registered by name, that travels with enqueued tasks.

    >>> request_tenant = QueueVar("doc_tenant", default=None)
    >>> with request_tenant("acme"):
    ...     request_tenant.get()
    'acme'
    >>> request_tenant.get() is None
    True

    ``codec`` turns non-JSON types into JSON and checks what a worker receives
    (see :mod:`ctxcarry.codecs`); without one, values must be plain JSON that
    round-trips exactly. Creating a second QueueVar with a registered name
    raises ``ValueError``.
    """

    __slots__ = ("__weakref__", "_codec", "_default", "_name", "_origin", "_plain", "_var")

    # The type of a new QueueVar (docs/concepts.md, "The type of a QueueVar"):
    #   QueueVar(name, default=None)                  -> QueueVar[str | None]
    #   QueueVar(name, default=None, codec=Codec[V])  -> QueueVar[V | None]
    #   QueueVar(name, default=V, codec=Codec[V])     -> QueueVar[V] (codec optional)
    # An annotation (``x: QueueVar[int | None] = QueueVar(...)``) replaces ``str | None`` in
    # the first form. The three forms are declared twice: mypy reads ``__init__``, pyright
    # reads ``__new__`` (it applies a TypeVar's default and the annotation only there). The
    # ``__new__`` exists for type checkers only: at run time ``object.__new__`` is used.
    # mypy solves ``StrDefault | None`` from an annotation of one type only (not from
    # ``int | str | None``), hence ``OptionalStrDefault`` there; so mypy, unlike pyright,
    # trusts ``x: QueueVar[int] = QueueVar("x", default=None)``.
    if TYPE_CHECKING:

        @overload
        def __new__(cls, name: str, *, default: None) -> QueueVar[StrDefault | None]: ...
        @overload
        def __new__(cls, name: str, *, default: None, codec: Codec[V]) -> QueueVar[V | None]: ...
        @overload
        def __new__(
            cls, name: str, *, default: V, codec: Codec[V] | None = None
        ) -> QueueVar[V]: ...
        def __new__(cls, name: str, *, default: Any, codec: Any = None) -> QueueVar[Any]: ...

    @overload
    def __init__(self: QueueVar[OptionalStrDefault], name: str, *, default: None) -> None: ...
    @overload
    def __init__(
        self: QueueVar[V | None], name: str, *, default: None, codec: Codec[V]
    ) -> None: ...
    @overload
    def __init__(
        self: QueueVar[V], name: str, *, default: V, codec: Codec[V] | None = None
    ) -> None: ...

    def __init__(self, name: str, *, default: Any, codec: Codec[Any] | None = None) -> None:
        if not is_valid_key(name):
            raise ValueError(
                f"invalid QueueVar name {name!r}: use letters, digits, '_', '.', '-' "
                f"(a letter or '_' first), at most {MAX_KEY_LENGTH} characters"
            )
        self._name = name
        self._default: T = default
        self._codec: Codec[T] = codec if codec is not None else JSONCodec()
        #: True when the var uses the plain JSON codec (decoding is the identity).
        self._plain = type(self._codec) is JSONCodec
        self._var: contextvars.ContextVar[Any] = contextvars.ContextVar(
            BACKING_PREFIX + name, default=CLEARED
        )
        #: ``(module, "file:line")`` of the code that created the var.
        self._origin = _definition_site()
        _register(self)

    @property
    def name(self) -> str:
        """The name the var is registered and sent under."""
        return self._name

    @property
    def default(self) -> T:
        """What :meth:`get` returns when the var is not set."""
        return self._default

    @property
    def codec(self) -> Codec[T]:
        """The codec that encodes and checks the var's values."""
        return self._codec

    @property
    def context_var(self) -> contextvars.ContextVar[Any]:
        """The ContextVar that backs this QueueVar (it holds internal slots)."""
        return self._var

    @overload
    def get(self) -> T: ...
    @overload
    def get(self, default: T) -> T: ...

    def get(self, default: Any = _MISSING) -> Any:
        """The current value; the var's default (or ``default``) when unset."""
        slot = self._var.get()
        if slot is CLEARED:
            return self._default if default is _MISSING else default
        return slot[0]

    def is_set(self) -> bool:
        """True when the var holds a value in the current context."""
        return self._var.get() is not CLEARED

    def set(self, value: T) -> contextvars.Token[Any]:
        """Set the value for the current context; return a token for :meth:`reset`.

        Raises ``TypeError`` naming the var if the value cannot travel.
        """
        return self._var.set(self._make_slot(value))

    def reset(self, token: contextvars.Token[Any]) -> None:
        """Restore the value the var had before the :meth:`set` that made ``token``."""
        self._var.reset(token)

    def clear(self) -> contextvars.Token[Any]:
        """Unset the var in the current context (``get()`` gives the default)."""
        return self._var.set(CLEARED)

    def __call__(self, value: T) -> QueueVarBinding[T]:
        """A context manager that sets ``value`` for a ``with`` block.

        The value is checked here, so a bad value fails at the call site.
        """
        return QueueVarBinding(self, self._make_slot(value))

    def _make_slot(self, value: T) -> Slot:
        """Check and snapshot ``value``; raise ``TypeError`` naming the var if it can't travel."""
        if value is None:
            return (None, None, 4)
        try:
            wire = self._codec.encode(value)
            snapshot, size = snapshot_exact(wire)
        except (NotJSON, TypeError, ValueError) as exc:
            raise TypeError(
                f"QueueVar {self._name!r} cannot carry {type(value).__name__} value: {exc}"
            ) from None
        return (value, snapshot, size)

    def _decode_slot(self, wire: JSONValue, size: int) -> Slot:
        """Build a slot from a JSON value read from a carrier (``TypeError``/``ValueError``)."""
        if wire is None:
            return (None, None, 4)
        if self._plain:
            return (wire, wire, size)
        return (self._codec.decode(wire), wire, size)

    # Internals that once looked like API: kept working, with a warning.

    @property
    def plain(self) -> bool:
        """Deprecated: internal (whether the var uses the plain JSON codec)."""
        _deprecated("QueueVar.plain")
        return self._plain

    def make_slot(self, value: T) -> Slot:
        """Deprecated: internal (set the var, or use ``var(value)``)."""
        _deprecated("QueueVar.make_slot()")
        return self._make_slot(value)

    def decode_slot(self, wire: JSONValue, size: int) -> Slot:
        """Deprecated: internal (use ``Carrier.decode``)."""
        _deprecated("QueueVar.decode_slot()")
        return self._decode_slot(wire, size)

    def __repr__(self) -> str:
        return f"<QueueVar {self._name!r} default={self._default!r}>"


class QueueVarBinding(Generic[T]):
    """The context manager returned by ``var(value)``; re-entrant, nestable."""

    __slots__ = ("_slot", "_tokens", "_var")

    def __init__(self, var: QueueVar[T], slot: Slot) -> None:
        self._var = var
        self._slot = slot
        self._tokens: list[contextvars.Token[Any]] = []

    def __enter__(self) -> T:
        self._tokens.append(self._var.context_var.set(self._slot))
        return cast(T, self._slot[0])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._var.context_var.reset(self._tokens.pop())


#: Built-in QueueVar: the task's priority. When set, adapters use it as the
#: message priority unless the caller passed one explicitly. 0..255 (AMQP's
#: range; Redis transports use 0..9).
priority: QueueVar[int | None] = QueueVar(
    "priority", default=None, codec=cast("Codec[int | None]", IntRangeCodec(0, 255))
)
