"""JSON values: the only things that travel in a carrier.

What may travel is one rule, enforced on both sides (see docs/wire-format.md):
I-JSON (RFC 7493) plus no U+0000. Strings -- values and object keys, at every
depth -- hold Unicode scalar values only (no lone surrogate) and no NUL;
integers are exactly representable as IEEE doubles (``|n| <= 2**53 - 1``);
floats are finite and within the same range (JSON writes a larger float in
exponent form, which PostgreSQL's ``jsonb`` reads back as an integer);
containers nest at most :data:`MAX_DEPTH` deep. Such a
value is accepted by every transport ctxcarry supports: AMQP header tables
(signed 64-bit integers), PostgreSQL ``jsonb`` (no ``\u0000``, no unpaired
surrogates), Redis, and JSON in any language.

Two policies share one walker design:

* :func:`snapshot_exact` is for QueueVars and for everything read back from a
  carrier. It accepts exactly the values that satisfy the rule and survive a
  JSON round trip unchanged (``dict`` with ``str`` keys, ``list``, ``str``,
  ``int``, finite ``float``, ``bool``, ``None``) and refuses everything else (a
  tuple would come back as a list, an ``IntEnum`` as an ``int``, an ``int``
  key as a ``str``, a 64-bit id as a rounded double in JavaScript).
* :func:`sanitize_loose` is for structlog values, which are log data: it also
  turns UUID, datetime/date/time, Decimal, Enum, tuples and subclasses of the
  JSON scalars into their JSON forms, a number beyond the exact range into
  its decimal string, and each lone surrogate or NUL of a string into U+FFFD.
  It reports each such change through ``changed`` (the caller warns).

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
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeAlias, cast

__all__ = [
    "JSONValue",
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "NotJSON",
    "TooLarge",
    "copy_json",
    "encode_ascii",
    "is_clean_text",
    "sanitize_loose",
    "snapshot_exact",
    "snapshot_received",
    "string_size",
]

JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"

#: Containers nested deeper than this are refused (it also bounds recursion).
MAX_DEPTH = 32

#: Largest integer magnitude that travels as a number (exact as an IEEE double; I-JSON).
MAX_SAFE_INTEGER = 2**53 - 1

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


#: A lone surrogate or NUL: what a carried string may never hold (used to repair).
_UNCLEAN = re.compile("[\x00\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def _has_lone_surrogate(text: str) -> bool:
    # Strict UTF-8 encoding refuses exactly the lone surrogates, several
    # times faster than a regular expression scan.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_clean_text(text: str) -> bool:
    """True when ``text`` holds no NUL and no lone surrogate (checked in C)."""
    if "\x00" in text:
        return False
    return text.isascii() or not _has_lone_surrogate(text)


def string_size(text: str) -> int:
    """Exact size of ``text`` as an ASCII-escaped JSON string, quotes included."""
    return len(encode_ascii(text))


def _float_size(value: float) -> int:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # False for NaN too
        return len(float.__repr__(value))
    if math.isnan(value) or math.isinf(value):
        raise NotJSON("NaN and Infinity are not JSON")
    raise NotJSON("float outside +-(2**53 - 1), not kept as a float by jsonb")


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"larger than {limit} bytes of JSON")


def snapshot_exact(value: object, limit: int = _UNLIMITED) -> tuple[JSONValue, int]:
    """Copy a value that round-trips through JSON exactly; return it and its size.

    Raises :class:`NotJSON` (or :class:`TooLarge`) naming the offending type.
    """
    return _exact(value, 0, limit)


def snapshot_received(value: object, limit: int = _UNLIMITED) -> tuple[JSONValue, int]:
    """:func:`snapshot_exact` for a value read from a carrier, checked in C where it can be.

    A container that holds containers goes first through :func:`_checked_in_c`:
    the C encoder and decoder plus a few C-level string scans check the whole
    value at about the cost of parsing it, where the item-by-item walk costs
    a Python step per element. Whatever that cannot settle takes the walk.
    The result is a fresh plain copy, so a subclass in a hostile ``Mapping``
    (a ``str`` subclass lying in ``__eq__``) can never survive into it.
    """
    kind = type(value)
    if kind is list or kind is dict:
        items: Any = value if kind is list else cast("dict[Any, Any]", value).values()
        # The least each item takes ("0" or '"":0', and a comma): too many is too large.
        if items and (2 if kind is list else 5) * len(items) + 1 > limit:
            raise _too_large(limit)
        if not _CONTAINERS.isdisjoint(map(type, items)):
            checked = _checked_in_c(value, limit)
            if checked is not None:
                return checked
    return _exact(value, 0, limit)


_CONTAINERS = frozenset((list, dict))
_encode_ascii_json = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, check_circular=False
).encode
_encode_unicode_json = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, check_circular=False, ensure_ascii=False
).encode
_decode_json = json.JSONDecoder().decode
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: JSON text -> its shape: brackets as parentheses, digits as "0", the rest blank (one C call).
_SHAPE = str.maketrans(
    {
        c: "(" if c in "[{" else ")" if c in "]}" else "0" if c.isdigit() else " "
        for c in map(chr, range(128))
    }
)
_SIXTEEN_DIGITS = "0" * 16


def _checked_in_c(value: object, limit: int) -> tuple[JSONValue, int] | None:
    """The wire rule checked on the JSON text of ``value``; ``None``: walk it instead.

    Refusals are never decided here, only acceptance (and "too large", which
    the exact size settles): anything suspicious -- a ``\\u0000`` or surrogate
    escape, 16 digits in a row, an exponent, more than :data:`MAX_DEPTH`
    levels, a copy that differs (tuples, non-``str`` keys) -- goes to the walk,
    which names the problem.
    """
    try:
        text = _encode_ascii_json(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if len(text) > limit:
        raise _too_large(limit)
    if "e+" in text:  # a float beyond 1e16 (or text that looks like one)
        return None
    if "\\u" in text:  # non-ASCII: no NUL, and UTF-8 (no lone surrogate)?
        unicode_text = _encode_unicode_json(value)
        if "\\u0000" in unicode_text:
            return None
        try:
            unicode_text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    shape = text.translate(_SHAPE)
    if _SIXTEEN_DIGITS in shape:  # a number beyond 2**53 - 1 (or 16 digits in a string)
        return None
    if '"' in text:  # brackets and digits inside strings are not structure
        shape = _JSON_STRING.sub("", text).translate(_SHAPE)
    shape = shape.replace(" ", "").replace("0", "")
    for _ in range(MAX_DEPTH):  # each pass removes one level of nesting
        shape = shape.replace("()", "")
        if not shape:
            break
    else:
        return None
    copy = _decode_json(text)
    if copy != value:
        return None
    return copy, len(text)


def _exact(value: Any, depth: int, limit: int) -> tuple[JSONValue, int]:
    # Hot path: plain ``Any`` and no ``typing.cast`` calls (each one is a call).
    kind = type(value)
    if kind is str:
        if len(value) + 2 > limit:
            raise _too_large(limit)
        if "\x00" in value or (not value.isascii() and _has_lone_surrogate(value)):
            raise NotJSON("string holds a lone surrogate or U+0000")
        return value, len(encode_ascii(value))
    if value is None:
        return None, 4
    if kind is bool:
        return value, 4 if value else 5
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value, len(int.__repr__(value))
        raise NotJSON("integer outside +-(2**53 - 1), not exact in JSON")
    if kind is float:
        return value, _float_size(value)
    if kind is list or kind is dict:
        if depth >= MAX_DEPTH:
            raise NotJSON(f"nested deeper than {MAX_DEPTH} levels")
        if kind is list:
            return _exact_list(value, depth, limit)
        return _exact_dict(value, depth, limit)
    raise NotJSON(f"{_type_name(value)} does not round-trip through JSON")


#: C-level checks and sizing for a list of plain numbers or plain strings.
_compact_encode = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, check_circular=False
).encode
_NUMBER_TYPES = frozenset((int, float, bool))
_STR_TYPE = frozenset((str,))


def _scalar_list_size(items: list[Any]) -> int:
    """Exact size of a list of plain numbers or of clean strings, else ``-1``.

    Every step runs in C (``map``, ``set``, ``min``/``max``, ``join``, the json
    encoder), so a hostile list of a million zeros costs about what parsing
    it did, not a Python step per element.
    """
    kinds = set(map(type, items))
    if kinds <= _NUMBER_TYPES:
        if not -MAX_SAFE_INTEGER <= min(items) <= max(items) <= MAX_SAFE_INTEGER:
            return -1
        try:
            return len(_compact_encode(items))
        except ValueError:  # NaN or Infinity: the item-by-item path names it
            return -1
    if kinds <= _STR_TYPE and is_clean_text("".join(items)):
        return len(_compact_encode(items))
    return -1


def _exact_list(items: list[object], depth: int, limit: int) -> tuple[JSONValue, int]:
    if not items:
        return [], 2
    if 2 * len(items) + 1 > limit:  # each item takes at least one byte and a comma
        raise _too_large(limit)
    if len(items) > 8:
        size = _scalar_list_size(items)
        if size > limit:
            raise _too_large(limit)
        if size >= 0:
            return cast("list[JSONValue]", list(items)), size
    return _exact_list_walk(items, depth, limit)


def _exact_list_walk(items: list[object], depth: int, limit: int) -> tuple[JSONValue, int]:
    """The item-by-item path of :func:`_exact_list` (the reference for its fast path)."""
    if not items:
        return [], 2
    copied: list[JSONValue] = []
    append = copied.append
    size = 1
    for item in items:
        # Exact small ints inline: the common element of a small list.
        if type(item) is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            append(item)
            size += len(int.__repr__(item)) + 1
        else:
            item_copy, item_size = _exact(item, depth + 1, limit - size)
            append(item_copy)
            size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


def _exact_dict(mapping: dict[object, object], depth: int, limit: int) -> tuple[JSONValue, int]:
    if not mapping:
        return {}, 2
    if 5 * len(mapping) + 1 > limit:  # each item takes at least '"":0' and a comma
        raise _too_large(limit)
    copied: dict[str, JSONValue] = {}
    size = 1
    for key, item in mapping.items():
        if type(key) is not str:
            raise NotJSON(f"dict key of type {_type_name(key)} is not a JSON string")
        if "\x00" in key or (not key.isascii() and _has_lone_surrogate(key)):
            raise NotJSON("dict key holds a lone surrogate or U+0000")
        size += len(encode_ascii(key)) + 1
        # Exact small ints inline: the common value of a small object.
        if type(item) is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            copied[key] = item
            size += len(int.__repr__(item)) + 1
        else:
            item_copy, item_size = _exact(item, depth + 1, limit - size)
            copied[key] = item_copy
            size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


#: What :func:`sanitize_loose` reports through ``changed``.
BIG_NUMBER_AS_STRING = "number beyond +-(2**53 - 1) sent as its decimal string"
TEXT_REPAIRED = "lone surrogate or U+0000 sent as U+FFFD"


def sanitize_loose(
    value: object, limit: int = _UNLIMITED, changed: set[str] | None = None
) -> tuple[JSONValue, int]:
    """Convert a log value to JSON: exact JSON as is, well-known types to strings.

    UUID -> canonical string; datetime/date/time -> ISO 8601; Decimal -> its
    string (finite only); Enum -> its value if that is a ``str``, else its name;
    tuple -> list; subclasses of ``str``/``int``/``float`` -> the plain value
    (read without calling the subclass's own methods). An integer beyond the
    exact range becomes its decimal string and a lone surrogate or NUL becomes
    U+FFFD, each noted in ``changed`` (:data:`BIG_NUMBER_AS_STRING`,
    :data:`TEXT_REPAIRED`). Anything else raises :class:`NotJSON`.
    """
    return _loose(value, 0, limit, set() if changed is None else changed)


def _loose(value: object, depth: int, limit: int, changed: set[str]) -> tuple[JSONValue, int]:
    kind = type(value)
    if kind is str:
        text = cast(str, value)
        if not is_clean_text(text):
            changed.add(TEXT_REPAIRED)
            text = _UNCLEAN.sub(_REPLACEMENT, text)
        return _exact(text, depth, limit)
    if kind is int:
        number = cast(int, value)
        if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return number, len(int.__repr__(number))
        changed.add(BIG_NUMBER_AS_STRING)
        if number.bit_length() > limit * 4:  # more digits than the budget: don't print it
            raise _too_large(limit)
        try:
            digits = int.__repr__(number)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            raise _too_large(limit) from None
        return _exact(digits, depth, limit)
    if kind is float:
        real = cast(float, value)
        if not -MAX_SAFE_INTEGER <= real <= MAX_SAFE_INTEGER and math.isfinite(real):
            changed.add(BIG_NUMBER_AS_STRING)
            return _exact(float.__repr__(real), depth, limit)
        return _exact(value, depth, limit)
    if kind is bool or value is None:
        return _exact(value, depth, limit)
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            raise NotJSON(f"nested deeper than {MAX_DEPTH} levels")
        return _loose_list(cast("list[object]", value), depth, limit, changed)
    if kind is dict:
        if depth >= MAX_DEPTH:
            raise NotJSON(f"nested deeper than {MAX_DEPTH} levels")
        return _loose_dict(cast("dict[object, object]", value), depth, limit, changed)
    return _loose(_convert_known(value), depth, limit, changed)


def _convert_known(value: object) -> object:
    """Map a well-known non-JSON value to its JSON form, or raise NotJSON."""
    if isinstance(value, enum.Enum):
        member_value = value.value
        return str.__str__(member_value) if isinstance(member_value, str) else value.name
    if isinstance(value, uuid.UUID):
        return uuid.UUID.__str__(value)
    if isinstance(value, _dt.datetime):
        return _dt.datetime.isoformat(value)
    if isinstance(value, _dt.date):
        return _dt.date.isoformat(value)
    if isinstance(value, _dt.time):
        return _dt.time.isoformat(value)
    if isinstance(value, decimal.Decimal):
        if not decimal.Decimal.is_finite(value):
            raise NotJSON("Decimal NaN and Infinity are not JSON")
        return decimal.Decimal.__str__(value)
    # The plain value of a subclass, read by the base type: never the
    # subclass's own (possibly failing) __str__/__int__/__float__.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    raise NotJSON(f"{_type_name(value)} is not JSON-serialisable")


def _loose_list(
    items: list[object], depth: int, limit: int, changed: set[str]
) -> tuple[JSONValue, int]:
    if not items:
        return [], 2
    copied: list[JSONValue] = []
    size = 1
    for item in items:
        item_copy, item_size = _loose(item, depth + 1, limit - size, changed)
        copied.append(item_copy)
        size += item_size + 1
        if size > limit:
            raise _too_large(limit)
    return copied, size


def _loose_dict(
    mapping: dict[object, object], depth: int, limit: int, changed: set[str]
) -> tuple[JSONValue, int]:
    if not mapping:
        return {}, 2
    copied: dict[str, JSONValue] = {}
    size = 1
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise NotJSON(f"dict key of type {_type_name(key)} is not a JSON string")
        plain_key = str.__str__(key)
        if not is_clean_text(plain_key):
            changed.add(TEXT_REPAIRED)
            plain_key = _UNCLEAN.sub(_REPLACEMENT, plain_key)
        size += string_size(plain_key) + 1
        item_copy, item_size = _loose(item, depth + 1, limit - size, changed)
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
