"""Which :class:`~ctxcarry.Carrier` the task processor adapter uses.

``install(carrier=...)`` sets it; until then (and after ``uninstall()``) the
adapter follows :func:`ctxcarry.get_default_carrier` at every enqueue and run,
so ``set_default_carrier`` keeps working for users who never pass one.
"""

from __future__ import annotations

from ctxcarry import Carrier, get_default_carrier

__all__ = ["current_carrier", "set_carrier", "without_trace"]

_carrier: Carrier | None = None


def current_carrier() -> Carrier:
    """The Carrier chosen at install, or the default Carrier."""
    return _carrier if _carrier is not None else get_default_carrier()


def set_carrier(carrier: Carrier | None) -> None:
    """Use ``carrier`` from now on; ``None`` follows the default Carrier again."""
    global _carrier
    if carrier is not None and not isinstance(carrier, Carrier):
        raise TypeError("install(carrier=...) needs a ctxcarry.Carrier")
    _carrier = carrier


_without_trace: tuple[Carrier | None, Carrier | None] = (None, None)


def without_trace(carrier: Carrier) -> Carrier:
    """``carrier`` minus the trace fields (remembered: enqueue asks on every task).

    Used when flagsmith-common already wrote the W3C fields into
    ``trace_context``: they stay exactly as upstream wrote them.
    """
    global _without_trace
    source, derived = _without_trace
    if source is not carrier or derived is None:
        derived = carrier.replace(carry_trace=False)
        _without_trace = (carrier, derived)
    return derived
