"""Put the carried context on every log line, for structlog and stdlib logging alike.

structlog's ``merge_contextvars`` already adds the structlog keys. What it
cannot add is the rest of what ctxcarry carries:

* :func:`add_context` -- a structlog processor that adds every QueueVar that is
  set (under its name, in its JSON form) and the current ``trace_id`` and
  ``span_id`` (lowercase hex, 32 and 16 digits: the forms OpenTelemetry's log
  correlation uses). It never overwrites a key the event already has.
* :class:`ContextFilter` -- a stdlib ``logging.Filter`` that puts the structlog
  contextvars, the set QueueVars and the trace ids on every ``LogRecord`` as
  attributes, for plain ``logging`` formatters (``%(request_id)s``) and for
  libraries' own loggers (Celery, uvicorn, Django, ctxcarry's warnings).
* :func:`json_logging_config` -- a ``logging.config.dictConfig`` dictionary that
  renders every record, structlog's and stdlib's, as one JSON line carrying
  all of the above: usable as Django's ``LOGGING``, uvicorn's ``log_config``
  and in a Celery worker's ``setup_logging`` signal.

This module is a leaf: it reads the context and never changes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace as otel_trace

from ._queuevar import CLEARED, registered_pairs

__all__ = [
    "SPAN_ID_KEY",
    "TRACE_ID_KEY",
    "ContextFilter",
    "add_context",
    "context_items",
    "json_logging_config",
    "structlog_processors",
]

#: Where the current trace id goes (32 lowercase hex digits).
TRACE_ID_KEY = "trace_id"
#: Where the current span id goes (16 lowercase hex digits).
SPAN_ID_KEY = "span_id"


def _queuevar_items() -> Iterator[tuple[str, Any]]:
    """``(name, JSON value)`` for every QueueVar that is set here."""
    for var, cvar in registered_pairs():
        slot = cvar.get()
        if slot is not CLEARED:
            yield var.name, slot[1]


def _trace_items() -> Iterator[tuple[str, str]]:
    """The current trace and span ids in hex, when a valid span is current."""
    span_context = otel_trace.get_current_span().get_span_context()
    if span_context.is_valid:
        yield TRACE_ID_KEY, format(span_context.trace_id, "032x")
        yield SPAN_ID_KEY, format(span_context.span_id, "016x")


def context_items(*, structlog_keys: bool = True) -> Iterator[tuple[str, Any]]:
    """Everything ctxcarry knows about the current context, as ``(key, value)`` pairs.

    The structlog contextvars (unless ``structlog_keys=False``), the set
    QueueVars by name, and ``trace_id``/``span_id``. A key appears once: the
    first source wins, in that order.
    """
    seen: set[str] = set()
    sources: list[Iterator[tuple[str, Any]]] = [_queuevar_items(), _trace_items()]
    if structlog_keys:
        sources.insert(0, iter(structlog.contextvars.get_contextvars().items()))
    for source in sources:
        for key, value in source:
            if key not in seen:
                seen.add(key)
                yield key, value


def add_context(
    logger: object, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: add the set QueueVars and the trace ids to the event.

    Put it after ``structlog.contextvars.merge_contextvars``. Keys the event
    already has (passed to the log call, or bound) are never overwritten.
    """
    for key, value in context_items(structlog_keys=False):
        event_dict.setdefault(key, value)
    return event_dict


class ContextFilter(logging.Filter):
    """Put the current context on every ``LogRecord`` that passes through it.

    Attach it to a *handler* (a logger's filters do not see records that
    propagate from child loggers). Each structlog key, set QueueVar and trace
    id becomes a record attribute unless the record already has one by that
    name (a ``LogRecord`` field such as ``name`` or ``message``, or an
    ``extra=`` value), so a formatter can use ``%(request_id)s``; give it
    ``defaults={"request_id": "-"}`` for lines logged outside any request.
    Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            attributes = vars(record)
            for key, value in context_items():
                attributes.setdefault(key, value)
        except Exception:  # a log line must never fail because of context
            pass
        return True


def json_logging_config(
    level: str = "INFO", *, loggers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A ``dictConfig`` dictionary: every record as one JSON line with the context.

    One handler on the root logger writes to stderr through structlog's
    ``ProcessorFormatter``: structlog events (configure structlog with
    :func:`structlog_processors` and ``wrap_for_formatter``) and stdlib
    records alike get the structlog contextvars, the set QueueVars and the
    trace ids (the foreign chain runs in the thread that logs, so it sees that
    thread's context). ``loggers`` sets levels of named loggers, such as
    ``{"uvicorn.access": "INFO"}``.
    """
    pre_chain = [*_shared_chain(), structlog.stdlib.ExtraAdder()]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "ctxcarry_json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": pre_chain,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(default=str),
                ],
            }
        },
        "handlers": {
            "ctxcarry_json": {
                "class": "logging.StreamHandler",
                "formatter": "ctxcarry_json",
            }
        },
        "root": {"handlers": ["ctxcarry_json"], "level": level},
        "loggers": {
            name: {"level": logger_level, "propagate": True}
            for name, logger_level in (loggers or {}).items()
        },
    }


def structlog_processors() -> list[Any]:
    """The processors to pass to ``structlog.configure`` with :func:`json_logging_config`.

    structlog events then go through the same JSON formatter as stdlib
    records, with the same keys.
    """
    return [*_shared_chain(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter]


def _shared_chain() -> list[Any]:
    """What structlog events and stdlib records both go through: context, level, time."""
    return [
        structlog.contextvars.merge_contextvars,
        add_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
