"""The two message options the Dramatiq adapter owns, and how they are read back.

``message.options`` is a dict inside the message's JSON body on every broker
(RabbitMQ included: not AMQP headers), so the options travel wherever the
message goes, and a worker without the adapter ignores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OPTION", "PARENT_OPTION", "read_carrier", "read_parent_id"]

#: The message option that holds the carrier (the dict ``Carrier.inject`` writes),
#: or ``None`` when nothing was bound at the first enqueue. Its presence marks a
#: message as stamped: re-enqueues of the same message keep it.
OPTION = "ctxcarry"

#: The message option that holds the id of the message whose run enqueued this
#: one (a nested send, a pipeline step, a callback); absent for messages
#: enqueued outside a task.
PARENT_OPTION = "ctxcarry_parent_id"

#: The longest parent id that is bound into logs (Dramatiq's ids are 36 characters).
MAX_ID_LENGTH = 128


def read_carrier(options: Mapping[str, Any]) -> object:
    """The carrier a message holds, or ``None``."""
    return options.get(OPTION)


def read_parent_id(options: Mapping[str, Any]) -> str | None:
    """The parent message id a message holds, if it is a plausible id.

    The option is untrusted input: anything but a short printable string is
    ignored (it would otherwise be bound into every log line of the task).
    """
    value = options.get(PARENT_OPTION)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable():
        return value
    return None
