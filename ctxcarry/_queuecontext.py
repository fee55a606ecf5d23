"""QueueContext: the read-only view of what one carrier holds."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, overload

from . import _defaults
from ._forward import Forwarded
from ._jsonvalue import JSONValue
from ._queuevar import QueueVar, Slot
from ._wire import FORMAT_VERSION

__all__ = ["QueueContext"]

T = TypeVar("T")


class QueueContext(Mapping["QueueVar[Any]", Any]):
    """The QueueVars a carrier holds, keyed by :class:`~ctxcarry.QueueVar`.

    It holds exactly the vars that were set when ``inject`` ran (a var that was
    not set is absent, and reads its default on the worker). Besides the
    mapping it exposes what else the carrier held: ``log_context`` (the
    structlog keys), ``trace_headers`` (the W3C fields), ``version`` and
    ``dropped`` (one line per item that could not be used, and why).
    """

    __slots__ = ("_slots", "_unknown", "dropped", "log_context", "trace_headers", "version")

    def __init__(
        self,
        values: Mapping[QueueVar[Any], Any] | None = None,
        *,
        log_context: Mapping[str, JSONValue] | None = None,
        trace_headers: Mapping[str, str] | None = None,
        version: int = FORMAT_VERSION,
        dropped: tuple[str, ...] = (),
    ) -> None:
        slots: dict[QueueVar[Any], Slot] = {}
        for var, value in (values or {}).items():
            slots[var] = var._make_slot(value)
        self._slots = slots
        self.log_context: Mapping[str, JSONValue] = dict(log_context or {})
        self.trace_headers: Mapping[str, str] = dict(trace_headers or {})
        self.version = version
        self.dropped = dropped
        self._unknown: Mapping[str, Forwarded] = {}

    @classmethod
    def _from_slots(
        cls,
        slots: dict[QueueVar[Any], Slot],
        log_context: dict[str, JSONValue],
        trace_headers: dict[str, str],
        version: int,
        dropped: tuple[str, ...],
        unknown: Mapping[str, Forwarded] | None = None,
    ) -> QueueContext:
        self = cls.__new__(cls)
        self._slots = slots
        self._unknown = unknown if unknown is not None else {}
        self.log_context = log_context
        self.trace_headers = trace_headers
        self.version = version
        self.dropped = dropped
        return self

    @classmethod
    def from_carrier(cls, carrier: object) -> QueueContext:
        """Decode ``carrier`` with the default Carrier, changing no context.

        Never raises for a bad carrier (unless the default Carrier is strict):
        what could not be read is listed in ``dropped``.
        """
        decoded = _defaults.carrier.decode(carrier)
        if not isinstance(decoded, QueueContext):  # pragma: no cover - a Carrier's decode
            raise TypeError("the default Carrier's decode() did not give a QueueContext")
        return decoded

    def _checked_slots(self) -> Mapping[QueueVar[Any], Slot]:
        """Internal: the checked slots, ready to be set on each var's ContextVar."""
        return self._slots

    def slots(self) -> Mapping[QueueVar[Any], Slot]:
        """Deprecated: internal, never API (``QueueContext`` is the mapping to read)."""
        warnings.warn(
            "QueueContext.slots() is internal and will be removed; read the QueueContext "
            "itself (a mapping of QueueVar to value)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._slots

    def _unregistered(self) -> Mapping[str, JSONValue]:
        """Internal: QueueVars the carrier held that this process has not registered.

        Name -> wire value (only values that satisfy the wire rule); for ``inspect``.
        """
        return {name: entry[0] for name, entry in self._unknown.items()}

    def _unregistered_modules(self) -> Mapping[str, str]:
        """Internal: the module hint the carrier gave for each unregistered QueueVar."""
        return {name: entry[2] for name, entry in self._unknown.items() if entry[2] is not None}

    @overload
    def __getitem__(self, var: QueueVar[T]) -> T: ...
    @overload
    def __getitem__(self, var: object) -> Any: ...

    def __getitem__(self, var: Any) -> Any:
        try:
            return self._slots[var][0]
        except (KeyError, TypeError):
            raise KeyError(var) from None

    def __iter__(self) -> Iterator[QueueVar[Any]]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, var: object) -> bool:
        try:
            return var in self._slots
        except TypeError:
            return False

    def as_dict(self) -> dict[str, Any]:
        """The values by var name, e.g. for logging or assertions."""
        return {var.name: slot[0] for var, slot in self._slots.items()}

    def __repr__(self) -> str:
        return f"QueueContext({self.as_dict()!r})"
