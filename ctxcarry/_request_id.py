"""Request ids: accept a client's id only when it is safe, otherwise make a fresh one.

A request id sent by a client ends up in every log line of the request and in
every task it enqueues, so it is untrusted input with a long reach. The rules:

* the header is read only when the application says it is trusted (set by its
  own proxy or gateway); otherwise every request gets a generated id;
* only the first occurrence counts; anything longer than
  :data:`MAX_REQUEST_ID_LENGTH` is refused before any pattern sees it;
* the whole value must match :data:`REQUEST_ID_PATTERN` (ASCII letters and
  digits first, then letters, digits, ``. _ : -``): no spaces, newlines,
  quotes, braces, unicode or separators that could forge a log field;
* a UUID in any accepted spelling is canonicalised to lowercase, so one id is
  spelled one way in every log line;
* a refused value is replaced by a fresh id and never logged, not even escaped.

This module imports no web framework; both request middlewares use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

__all__ = [
    "MAX_REQUEST_ID_LENGTH",
    "REQUEST_ID_PATTERN",
    "canonical_request_id",
    "choose_request_id",
    "new_request_id",
]

#: Longest request id accepted from a client (characters).
MAX_REQUEST_ID_LENGTH = 128

#: What a client's request id must look like, entirely (used with ``fullmatch``).
REQUEST_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_REQUEST_ID_LENGTH - 1}}}")

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID_SHAPE = re.compile(
    r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
)


def new_request_id() -> str:
    """A fresh request id: 128 random bits as 32 lowercase hex digits.

    ``str(uuid.uuid4())`` would cost ten times more per request; pass it as
    the generator if you want the hyphenated UUID spelling.
    """
    return os.urandom(16).hex()


def canonical_request_id(value: object) -> str | None:
    """The canonical spelling of an untrusted request id, or ``None`` if it is refused.

    Accepts ``str`` or ``bytes`` (as read from an ASGI header). A UUID written
    with or without hyphens, in any case, comes back as lowercase hyphenated
    text; any other accepted id comes back unchanged.
    """
    if isinstance(value, bytes):
        if len(value) > MAX_REQUEST_ID_LENGTH or not value.isascii():
            return None
        value = value.decode("ascii")
    elif type(value) is not str or len(value) > MAX_REQUEST_ID_LENGTH:
        return None
    if len(value) == 36 and _CANONICAL_UUID.fullmatch(value) is not None:
        return value  # the most common id, already canonical
    if REQUEST_ID_PATTERN.fullmatch(value) is None:
        return None
    if len(value) in (32, 36) and _UUID_SHAPE.fullmatch(value) is not None:
        digits = value.replace("-", "").lower()
        if len(digits) == 32:
            return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    return value


def choose_request_id(
    candidate: object, generate: Callable[[], str] | None = None
) -> tuple[str, bool]:
    """The id to use for a request, and whether it is the client's.

    ``candidate`` is the first value of the trusted header (``None`` when the
    header is absent or not trusted). When it is refused, or absent, the id
    comes from ``generate`` (default :func:`new_request_id`); a custom
    generator's result is checked too, and replaced if it does not pass or
    the generator raises.
    """
    if candidate is not None:
        accepted = canonical_request_id(candidate)
        if accepted is not None:
            return accepted, True
    if generate is None:
        return new_request_id(), False
    try:
        generated = canonical_request_id(generate())
    except Exception:  # a broken generator must not fail the request
        generated = None
    return (generated if generated is not None else new_request_id()), False
