"""JSON values: the only things that travel in a carrier.

Two policies share one walker design:

* :func:`snapshot_exact` is for QueueVars and for everything read back from a
  carrier. It accepts exactly the values that survive a JSON round trip
  unchanged (``dict`` with ``str`` keys, ``list``, ``str``, ``int``, finite
  ``float``, ``bool``, ``None``) and refuses lossy ones (a tuple would come back
  as a list, an ``IntEnum`` as an ``int``, an ``int`` key as a ``str``).
* :func:`sanitize_loose` is for structlog values, which are log data: it also
  turns UUID, datetime/date/time, Decimal, Enum, tuples and subclasses of the
  JSON scalars into their JSON forms.

Both return a private deep copy (so a later mutation of the original changes
nothing that was captured) together with the value's exact encoded size:
``len(json.dumps(value, separators=(",", ":")))`` with ``ensure_ascii=True``,
where characters and bytes are the same thing. Both stop early, with
:class:`TooLarge`, once the size passes a limit, so a hostile value costs work
proportional to the limit, not to its own size.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json.encoder
import math
import uuid
from collections.abc import Callable
from typing import Any, TypeAlias, cast

__all__ = [
    "JSONValue",
    "MAX_DEPTH",
    "NotJSON",
    "TooLarge",
    "copy_json",
    "encode_ascii",
    "sanitize_loose",
    "snapshot_exact",
    "string_size",
]

JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"

#: Containers nested deeper than this are refused (it also bounds recursion).
MAX_DEPTH = 32

_UNLIMITED = 1 << 62

#: ``json``'s C encoder for a string with quotes and ASCII escapes.
encode_ascii = cast(
    "Callable[[str], str]",
    getattr(json.encoder, "c_encode_basestring_ascii", None)
    or json.encoder.py_encode_basestring_ascii,
)


class NotJSON(ValueError):
    """A value cannot travel as JSON; ``str(exc)`` says why."""


class TooLarge(NotJSON):
    """A value's JSON form is larger than the limit it was checked against."""


def string_size(text: str) -> int:
    """Exact size of ``text`` as an ASCII-escaped JSON string, quotes included."""
    return len(encode_ascii(text))


def _scalar_size_int(value: int) -> int:
    try:
        return len(int.__repr__(value))
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        raise NotJSON("integer has too many digits") from None


def _float_size(value: float) -> int:
    if math.isnan(value) or math.isinf(value):
        raise NotJSON("NaN and Infinity are not JSON")
    return len(float.__repr__(value))


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"larger than {limit} bytes of JSON")


def snapshot_exact(value: object, limit: int = _UNLIMITED) -> tuple[JSONValue, int]:
    """Copy a value that round-trips through JSON exactly; return it and its size.

    Raises :class:`NotJSON` (or :class:`TooLarge`) naming the offending type.
    """
    return _exact(value, 0, limit)


def _exact(value: Any, depth: int, limit: int) -> tuple[JSONValue, int]:
    # Hot path: plain ``Any`` and no ``typing.cast`` calls (each one is a call).
    kind = type(value)
    if kind is str:
        if len(value) + 2 > limit:
            raise _too_large(limit)
        return value, len(encode_ascii(value))
    if value is None:
        return None, 4
    if kind is bool:
        return value, 4 if value else 5
    if kind is int:
        return value, _scalar_size_int(value)
    if kind is float:
        return value, _float_size(value)
    if kind is list or kind is dict:
        if depth >= MAX_DEPTH:
            raise NotJSON(f"nested deeper than {MAX_DEPTH} levels")
        if kind is list:
            return _exact_list(value, depth, limit)
        return _exact_dict(value, depth, limit)
    raise NotJSON(f"{_type_name(value)} does not round-trip through JSON")


def _exact_list(items: list[object], depth: int, limit: int) -> tuple[JSONValue, int]:
    if not items:
        return [], 2
    copied: list[JSONValue] = []
    size = 1
    for item in items:
        item_copy, item_size = _exact(item, depth + 1, limit - size)
        copied.append(item_copy)
        size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


def _exact_dict(mapping: dict[object, object], depth: int, limit: int) -> tuple[JSONValue, int]:
    if not mapping:
        return {}, 2
    copied: dict[str, JSONValue] = {}
    size = 1
    for key, item in mapping.items():
        if type(key) is not str:
            raise NotJSON(f"dict key of type {_type_name(key)} is not a JSON string")
        size += string_size(key) + 1
        item_copy, item_size = _exact(item, depth + 1, limit - size)
        copied[key] = item_copy
        size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


def sanitize_loose(value: object, limit: int = _UNLIMITED) -> tuple[JSONValue, int]:
    """Convert a log value to JSON: exact JSON as is, well-known types to strings.

    UUID -> canonical string; datetime/date/time -> ISO 8601; Decimal -> its
    string (finite only); Enum -> its value if that is a ``str``, else its name;
    tuple -> list; subclasses of ``str``/``int``/``float`` -> the plain value.
    Anything else raises :class:`NotJSON`.
    """
    return _loose(value, 0, limit)


def _loose(value: object, depth: int, limit: int) -> tuple[JSONValue, int]:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return _exact(value, depth, limit)
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            raise NotJSON(f"nested deeper than {MAX_DEPTH} levels")
        return _loose_list(cast("list[object]", value), depth, limit)
    if kind is dict:
        if depth >= MAX_DEPTH:
            raise NotJSON(f"nested deeper than {MAX_DEPTH} levels")
        return _loose_dict(cast("dict[object, object]", value), depth, limit)
    converted = _convert_known(value)
    return _exact(converted, depth, limit)


def _convert_known(value: object) -> object:
    """Map a well-known non-JSON value to its JSON form, or raise NotJSON."""
    if isinstance(value, enum.Enum):
        member_value = value.value
        return str.__str__(member_value) if isinstance(member_value, str) else value.name
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise NotJSON("Decimal NaN and Infinity are not JSON")
        return str(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    raise NotJSON(f"{_type_name(value)} is not JSON-serialisable")


def _loose_list(items: list[object], depth: int, limit: int) -> tuple[JSONValue, int]:
    if not items:
        return [], 2
    copied: list[JSONValue] = []
    size = 1
    for item in items:
        item_copy, item_size = _loose(item, depth + 1, limit - size)
        copied.append(item_copy)
        size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


def _loose_dict(mapping: dict[object, object], depth: int, limit: int) -> tuple[JSONValue, int]:
    if not mapping:
        return {}, 2
    copied: dict[str, JSONValue] = {}
    size = 1
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise NotJSON(f"dict key of type {_type_name(key)} is not a JSON string")
        plain_key = str.__str__(key)
        size += string_size(plain_key) + 1
        item_copy, item_size = _loose(item, depth + 1, limit - size)
        copied[plain_key] = item_copy
        size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


def copy_json(value: JSONValue) -> JSONValue:
    """Deep-copy a value already known to be JSON (containers only are copied)."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in cast("dict[str, JSONValue]", value).items()}
    if kind is list:
        return [copy_json(item) for item in cast("list[JSONValue]", value)]
    return value


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
