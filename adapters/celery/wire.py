"""The one message header the Celery adapter owns, and how a worker finds it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HEADER", "read_carrier"]

#: The message header that holds the carrier (the dict ``Carrier.inject`` writes).
#: The adapter owns it: it is overwritten at every publish, and no other header
#: is ever read or written.
HEADER = "ctxcarry"


def read_carrier(request: Any) -> object:
    """The carrier a task request holds, or ``None``.

    A protocol-2 header becomes an attribute of ``task.request``, which is read
    first: sentry-sdk puts a nested ``headers`` dict in the message, and then
    ``request.headers`` is that dict, without our key. ``request.headers`` is
    the fallback for eager runs (``task.apply(headers=...)`` only fills it).
    """
    raw = request.get(HEADER)
    if raw is not None:
        return raw
    headers = request.headers
    if isinstance(headers, Mapping):
        return headers.get(HEADER)
    return None
