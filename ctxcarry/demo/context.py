"""What the demo carries, and how its log lines show it.

The tenant is a :class:`~ctxcarry.QueueVar` (bound by the middleware's hook);
the request id is a structlog contextvar (bound by the middleware); the trace
comes from the client's ``traceparent``. One structlog processor copies all
three into every event, so web and worker lines print them the same way, and
records each event: the demo checks exactly what it printed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import structlog
from opentelemetry import trace

from ctxcarry import QueueVar

__all__ = ["Sighting", "capture_logs", "tenant"]

#: The demo's QueueVar: the tenant a request (and every task it causes) works for.
tenant: QueueVar[str | None] = QueueVar("demo_tenant", default=None)

_ID_WIDTH = 12
_TRACE_WIDTH = 16


@dataclass(frozen=True)
class Sighting:
    """One log event: which side logged it and the context it ran with."""

    side: str
    event: str
    request_id: str | None
    tenant: str | None
    trace_id: str | None
    task: str | None = None
    attempt: int | None = None


def _current_trace_id() -> str | None:
    span = trace.get_current_span().get_span_context()
    return f"{span.trace_id:032x}" if span.is_valid else None


class _Recorder:
    """A structlog processor that adds the context to an event and records it."""

    def __init__(self) -> None:
        self.sightings: list[Sighting] = []
        self._lock = threading.Lock()

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event.setdefault("tenant", tenant.get())
        event.setdefault("trace_id", _current_trace_id())
        sighting = Sighting(
            side=str(event.get("side", "?")),
            event=str(event.get("event", "")),
            request_id=event.get("request_id"),
            tenant=event.get("tenant"),
            trace_id=event.get("trace_id"),
            task=event.get("task"),
            attempt=event.get("attempt"),
        )
        with self._lock:
            self.sightings.append(sighting)
        return event


def _short(value: object, width: int) -> str:
    if value is None:
        return "-".ljust(width)
    text = str(value)
    return text[:width] if len(text) > width else text.ljust(width)


def _render(_: Any, __: str, event: MutableMapping[str, Any]) -> str:
    """``side  tenant  request_id  trace_id  event``: the ids line up for the eye."""
    return (
        f"{event.get('side', '?'):<6} {_short(event.get('tenant'), 7)} "
        f"request_id={_short(event.get('request_id'), _ID_WIDTH)} "
        f"trace_id={_short(event.get('trace_id'), _TRACE_WIDTH)}  {event.get('event', '')}"
    )


class _LockedPrinter:
    """Print whole lines from several threads without interleaving them."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            self._out.write(message + "\n")
            self._out.flush()

    info = warning = error = msg


@contextmanager
def capture_logs(out: TextIO) -> Iterator[Callable[[], list[Sighting]]]:
    """Configure structlog to print demo lines to ``out``; yield a getter of the sightings.

    The previous structlog configuration is restored afterwards.
    """
    saved = structlog.get_config()
    recorder = _Recorder()
    printer = _LockedPrinter(out)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, recorder, _render],
        logger_factory=lambda *_: printer,
        wrapper_class=structlog.BoundLogger,
        cache_logger_on_first_use=False,
    )
    try:
        yield lambda: list(recorder.sightings)
    finally:
        structlog.configure(**saved)
