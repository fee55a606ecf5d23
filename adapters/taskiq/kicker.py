"""``with_context(kicker)``: carry the current context into a scheduled task.

``schedule_by_cron``, ``schedule_by_interval`` and ``schedule_by_time`` store
the message's labels in the schedule source without calling any middleware;
the scheduler sends it later, from its own process. So the context has to be
put into the labels when the schedule is created, explicitly.
"""

from __future__ import annotations

from typing import Any, TypeVar

from taskiq.kicker import AsyncKicker

from ctxcarry import Carrier, get_default_carrier
from ctxcarry.kit import never_raises

from .installation import middleware_of
from .wire import LABEL, encode_label

__all__ = ["with_context"]

K = TypeVar("K", bound=AsyncKicker[Any, Any])


def with_context(kicker: K, carrier: Carrier | None = None) -> K:
    """``kicker`` with the current context in its labels; returns the same kicker.

    For scheduled sends: ``await with_context(task.kicker()).schedule_by_cron(
    source, "*/5 * * * *")``. Each run the scheduler sends carries the context
    current here. ``carrier`` defaults to the one installed on the kicker's
    broker (else the default Carrier). Never raises: without a context the
    kicker comes back without the label.
    """
    _add_label(kicker, carrier)
    return kicker


@never_raises("ctxcarry.adapters.taskiq.with_context")
def _add_label(kicker: AsyncKicker[Any, Any], carrier: Carrier | None) -> None:
    kicker.labels.pop(LABEL, None)  # a copied label never wins
    if carrier is None:
        middleware = middleware_of(kicker.broker)
        carrier = middleware.carrier if middleware is not None else get_default_carrier()
    carried = carrier.inject()
    if carried:
        kicker.labels[LABEL] = encode_label(carried)
