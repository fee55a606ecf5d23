"""The one label the Taskiq adapter owns: the carrier as a compact JSON string.

Taskiq turns every non-scalar label that passes through ``AsyncKicker`` into
``str(value)`` (a Python repr): ``.with_labels()``, decorator labels, and the
re-kick of a retry middleware, which copies ``message.labels``. A dict label
would arrive as ``"{'traceparent': ...}"`` on the first retry and be lost. A
JSON string is a scalar label: it survives all of those paths unchanged, and
it is a plain string AMQP header on taskiq-aio-pika.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from typing import Any

from taskiq.labels import LabelType

__all__ = ["AMQP_LABEL_LIMIT", "LABEL", "encode_label", "read_label", "remove_label", "write_label"]

#: The message label that holds the carrier. The adapter owns it: it is
#: rewritten at every send (except a retry's or a scheduler's re-send, which
#: keep the carrier of the original message) and no other label is read.
LABEL = "ctxcarry"

#: Budget cap, in bytes, for the label on taskiq-aio-pika brokers, which copy
#: every label into the AMQP headers: a content header larger than RabbitMQ's
#: ``frame_max`` (128 KiB by default) closes the whole connection.
AMQP_LABEL_LIMIT = 64 * 1024

#: A label longer than this many times the Carrier's budget is not parsed.
_PARSE_FACTOR = 4

_STR = int(LabelType.STR)


def encode_label(carried: Mapping[str, Any]) -> str:
    """The carrier as compact ASCII JSON (the form its ``max_bytes`` budget counts)."""
    return json.dumps(carried, separators=(",", ":"))


def write_label(
    labels: MutableMapping[str, Any], types: MutableMapping[str, int] | None, value: str
) -> None:
    """Set :data:`LABEL` to ``value``, typed as a string for Taskiq's label parser."""
    labels[LABEL] = value
    if types is not None:
        types[LABEL] = _STR


def remove_label(labels: MutableMapping[str, Any], types: MutableMapping[str, int] | None) -> None:
    """Remove :data:`LABEL` (and its type entry)."""
    labels.pop(LABEL, None)
    if types is not None:
        types.pop(LABEL, None)


def read_label(labels: Mapping[str, Any], max_bytes: int) -> tuple[object, str | None]:
    """The carrier a message's labels hold, and why it was refused (``None``: it was not).

    Returns ``(None, None)`` when there is no label: a message from a producer
    without the adapter. A JSON string is parsed; an object is used as it is
    (the carrier is validated by the Carrier, never here). What cannot be read
    comes back as ``(None, reason)``, the reason naming the problem, never the value.
    """
    raw = labels.get(LABEL)
    if raw is None or isinstance(raw, Mapping):
        return raw, None
    if not isinstance(raw, str):
        return None, f"label {LABEL!r} is {type(raw).__name__}, not a JSON string"
    if len(raw) > _PARSE_FACTOR * max_bytes:
        return None, f"label {LABEL!r} is {len(raw)} characters, over max_bytes={max_bytes}"
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):
        return None, f"label {LABEL!r} is not valid JSON"
