"""ctxcarry: carry request and task context across queue boundaries.

Bind identifiers once (a :class:`QueueVar`, structlog contextvars, the current
OpenTelemetry span); :func:`inject` packs them into a JSON-safe dict where a
task is enqueued, and :func:`extract` restores them around the task on the
worker, leaving the worker exactly as it was afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from . import codecs
from ._carrier import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_NEW_NAMES,
    Carrier,
    TraceRestore,
    get_default_carrier,
    set_default_carrier,
)
from ._jsonvalue import JSONValue
from ._problems import CarrierError
from ._queuecontext import QueueContext
from ._queuevar import QueueVar, QueueVarBinding, priority, registered_vars
from ._restore import Extraction
from ._threads import ContextThread, ContextThreadPoolExecutor, carry
from ._version import __version__
from ._wire import ENVELOPE_KEY, FORMAT_VERSION, STRUCTLOG_KEY

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_NEW_NAMES",
    "ENVELOPE_KEY",
    "FORMAT_VERSION",
    "STRUCTLOG_KEY",
    "Carrier",
    "CarrierError",
    "ContextThread",
    "ContextThreadPoolExecutor",
    "Extraction",
    "JSONValue",
    "QueueContext",
    "QueueVar",
    "QueueVarBinding",
    "TraceRestore",
    "__version__",
    "carry",
    "codecs",
    "extract",
    "get_default_carrier",
    "inject",
    "priority",
    "registered_vars",
    "run_carried",
    "set_default_carrier",
]

P = ParamSpec("P")
R = TypeVar("R")


def inject(carrier: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pack the current context into ``carrier`` (a new dict when omitted) and return it.

    Uses the default :class:`Carrier`; see :meth:`Carrier.inject`.
    """
    return get_default_carrier().inject(carrier)


def extract(carrier: object, *, restore_trace: TraceRestore | None = None) -> Extraction:
    """Restore ``carrier`` for a ``with`` block, which yields its :class:`QueueContext`.

    Uses the default :class:`Carrier`; see :class:`Extraction`.
    """
    return get_default_carrier().extract(carrier, restore_trace=restore_trace)


def run_carried(carrier: object, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``fn`` with ``carrier`` restored, in a private copy of the current context.

    Made for thread and pool targets: ``pool.submit(run_carried, carrier, fn, x)``.
    """
    return get_default_carrier().run(carrier, fn, *args, **kwargs)
