"""Codecs: how a QueueVar's Python value becomes JSON and comes back.

Plain JSON needs no codec. A codec adds a type (UUID, datetime, Decimal, an
Enum) or a check (``typed(int)``, a range) to a QueueVar. ``decode`` runs on
every value read from a carrier, so it is also the place where a worker refuses
a value a producer should not have sent: raise ``TypeError`` or ``ValueError``
and the value is dropped (the QueueVar keeps its default) with a warning.

``None`` is always allowed and always travels as ``null``: codecs never see it.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import uuid
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from ._jsonvalue import JSONValue

__all__ = [
    "Codec",
    "DateCodec",
    "DateTimeCodec",
    "DecimalCodec",
    "EnumCodec",
    "IntRangeCodec",
    "JSONCodec",
    "TypedCodec",
    "UUIDCodec",
    "typed",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")


class Codec(Protocol[T]):
    """Turns values of one type into JSON and back.

    Both methods raise ``TypeError`` or ``ValueError`` for a value they refuse.
    """

    def encode(self, value: T) -> JSONValue:
        """Return the JSON form of ``value``."""
        ...

    def decode(self, data: JSONValue) -> T:
        """Return the value for a JSON form read from a carrier."""
        ...


class JSONCodec:
    """The default: the value is plain JSON and travels as itself."""

    def encode(self, value: Any) -> JSONValue:
        return cast(JSONValue, value)

    def decode(self, data: JSONValue) -> Any:
        return data

    def __repr__(self) -> str:
        return "JSONCodec()"


class TypedCodec(JSONCodec, Generic[T]):
    """Plain JSON restricted to some types, checked on both sides.

    ``bool`` is never accepted as an ``int`` (it is a subclass in Python, not
    in JSON). ``T`` is the union of the types, so that a QueueVar using the
    codec gets their type (build one with :func:`typed`).
    """

    def __init__(self, *types: type) -> None:
        if not types:
            raise ValueError("typed() needs at least one type")
        self.types = types

    def _check(self, value: Any) -> Any:
        kind = type(value)
        if kind in self.types and not (kind is bool and bool not in self.types):
            return value
        names = ", ".join(t.__name__ for t in self.types)
        raise TypeError(f"expected {names}, got {kind.__name__}")

    def encode(self, value: T) -> JSONValue:
        return cast(JSONValue, self._check(value))

    def decode(self, data: JSONValue) -> T:
        return cast(T, self._check(data))

    def __repr__(self) -> str:
        return f"typed({', '.join(t.__name__ for t in self.types)})"


@overload
def typed(type1: type[T1], /) -> TypedCodec[T1]: ...
@overload
def typed(type1: type[T1], type2: type[T2], /) -> TypedCodec[T1 | T2]: ...
@overload
def typed(type1: type[T1], type2: type[T2], type3: type[T3], /) -> TypedCodec[T1 | T2 | T3]: ...
@overload
def typed(*types: type) -> TypedCodec[Any]: ...


def typed(*types: type) -> TypedCodec[Any]:
    """A codec accepting exactly these JSON types, e.g. ``typed(int)``.

    Its type is their union: ``QueueVar("n", default=None, codec=typed(int))`` is a
    ``QueueVar[int | None]``. (A type checker lets an ``int`` be a ``float``: with
    ``typed(float)`` it accepts ``var.set(1)``, which the codec refuses at run time.)
    """
    return TypedCodec(*types)


class IntRangeCodec:
    """An ``int`` (never a ``bool``) between ``low`` and ``high`` inclusive."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def _check(self, value: object) -> int:
        if type(value) is not int:
            raise TypeError(f"expected int, got {type(value).__name__}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside {self.low}..{self.high}")
        return value

    def encode(self, value: int) -> JSONValue:
        return self._check(value)

    def decode(self, data: JSONValue) -> int:
        return self._check(data)

    def __repr__(self) -> str:
        return f"IntRangeCodec({self.low}, {self.high})"


class UUIDCodec:
    """``uuid.UUID`` as its canonical lowercase hyphenated string."""

    def encode(self, value: uuid.UUID) -> JSONValue:
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"expected UUID, got {type(value).__name__}")
        return str(value)

    def decode(self, data: JSONValue) -> uuid.UUID:
        if type(data) is not str or len(data) != 36:
            raise ValueError("not a canonical UUID string")
        return uuid.UUID(data)


class DateTimeCodec:
    """``datetime.datetime`` as ISO 8601 (``isoformat()``); tz-awareness kept."""

    def encode(self, value: _dt.datetime) -> JSONValue:
        if not isinstance(value, _dt.datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        return value.isoformat()

    def decode(self, data: JSONValue) -> _dt.datetime:
        if type(data) is not str or len(data) > 64:
            raise ValueError("not an ISO 8601 datetime string")
        return _dt.datetime.fromisoformat(data)


class DateCodec:
    """``datetime.date`` as ISO 8601 ``YYYY-MM-DD``."""

    def encode(self, value: _dt.date) -> JSONValue:
        if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
            raise TypeError(f"expected date, got {type(value).__name__}")
        return value.isoformat()

    def decode(self, data: JSONValue) -> _dt.date:
        if type(data) is not str or len(data) > 16:
            raise ValueError("not an ISO 8601 date string")
        return _dt.date.fromisoformat(data)


class DecimalCodec:
    """``decimal.Decimal`` as its exact string (finite values only)."""

    def encode(self, value: decimal.Decimal) -> JSONValue:
        if not isinstance(value, decimal.Decimal):
            raise TypeError(f"expected Decimal, got {type(value).__name__}")
        if not value.is_finite():
            raise ValueError("NaN and Infinity cannot travel")
        return str(value)

    def decode(self, data: JSONValue) -> decimal.Decimal:
        if type(data) is not str or len(data) > 128:
            raise ValueError("not a decimal string")
        try:
            result = decimal.Decimal(data)
        except decimal.InvalidOperation:
            raise ValueError("not a decimal string") from None
        if not result.is_finite():
            raise ValueError("NaN and Infinity cannot travel")
        return result


class EnumCodec(Generic[E]):
    """Members of one Enum class, travelling as their (JSON) value."""

    def __init__(self, enum_class: type[E]) -> None:
        self.enum_class = enum_class

    def encode(self, value: E) -> JSONValue:
        if not isinstance(value, self.enum_class):
            raise TypeError(f"expected {self.enum_class.__name__}, got {type(value).__name__}")
        raw = value.value
        if type(raw) not in (str, int, float):
            raise TypeError(f"{self.enum_class.__name__} values must be str, int or float")
        return cast(JSONValue, raw)

    def decode(self, data: JSONValue) -> E:
        if type(data) not in (str, int, float):
            raise TypeError(f"expected a {self.enum_class.__name__} value")
        return self.enum_class(data)

    def __repr__(self) -> str:
        return f"EnumCodec({self.enum_class.__name__})"
