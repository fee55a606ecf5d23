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
from typing import Any

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
    #: The line as the demo prints it.
    line: str = ""


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
        line = _render(None, "", event)
        sighting = Sighting(
            side=str(event.get("side", "?")),
            event=str(event.get("event", "")),
            request_id=event.get("request_id"),
            tenant=event.get("tenant"),
            trace_id=event.get("trace_id"),
            task=event.get("task"),
            attempt=event.get("attempt"),
            line=line,
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


class _Silent:
    """structlog's logger for the demo: the lines are printed by the runner, in order."""

    def msg(self, message: str) -> None:
        pass

    info = warning = error = msg


@contextmanager
def capture_logs() -> Iterator[Callable[[], list[Sighting]]]:
    """Configure structlog to record the demo's events; yield a getter of the sightings.

    Each sighting holds its rendered line: the runner prints them once a
    request's tasks are done, in the journey's order, so the output never
    depends on which worker thread logged first. The previous structlog
    configuration is restored afterwards.
    """
    saved = structlog.get_config()
    recorder = _Recorder()
    silent = _Silent()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, recorder, _render],
        logger_factory=lambda *_: silent,
        wrapper_class=structlog.BoundLogger,
        cache_logger_on_first_use=False,
    )
    try:
        yield lambda: list(recorder.sightings)
    finally:
        structlog.configure(**saved)
