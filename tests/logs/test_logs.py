"""ctxcarry.logs: the carried context on structlog events and on stdlib records."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace

from ctxcarry import QueueVar, codecs, extract, inject
from ctxcarry.logs import (
    ContextFilter,
    add_context,
    json_logging_config,
    structlog_processors,
)

log_tenant: QueueVar[str | None] = QueueVar("logs_tenant", default=None)
log_org: QueueVar[int | None] = QueueVar("logs_org", default=None, codec=codecs.typed(int))


def test_add_context_adds_set_queuevars_and_trace_ids_without_overwriting(
    tracer: trace.Tracer,
) -> None:
    def scenario() -> None:
        with tracer.start_as_current_span("s") as span, log_tenant("acme"):
            event = add_context(None, "info", {"event": "x", "logs_tenant": "explicit"})
            context = span.get_span_context()
        assert event == {
            "event": "x",
            "logs_tenant": "explicit",  # the call's own key wins
            "trace_id": format(context.trace_id, "032x"),
            "span_id": format(context.span_id, "016x"),
        }
        assert add_context(None, "info", {"event": "y"}) == {"event": "y"}  # nothing set

    contextvars.Context().run(scenario)


def test_add_context_on_the_worker_shows_what_the_carrier_restored(tracer: trace.Tracer) -> None:
    def scenario() -> dict[str, Any]:
        with tracer.start_as_current_span("web"), log_tenant("acme"), log_org(7):
            carrier = inject()
        with extract(carrier):
            return dict(add_context(None, "info", {"event": "task"}))

    event = contextvars.Context().run(scenario)
    assert event["logs_tenant"] == "acme"
    assert event["logs_org"] == 7
    assert len(event["trace_id"]) == 32


def test_context_filter_puts_the_context_on_records_for_plain_formatters() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(name)s %(request_id)s %(logs_tenant)s %(message)s",
            defaults={"request_id": "-", "logs_tenant": "-"},
        )
    )
    logger = logging.getLogger("tests.logs.plain")
    logger.addHandler(handler)
    logger.propagate = False

    def scenario() -> None:
        logger.warning("outside")
        structlog.contextvars.bind_contextvars(request_id="r-1", name="not the logger name")
        with log_tenant("acme"):
            logger.warning("inside")

    try:
        contextvars.Context().run(scenario)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "tests.logs.plain - - outside",
        "tests.logs.plain r-1 acme inside",  # a LogRecord field (name) is never overwritten
    ]


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The JSON recipe installed on the root logger, writing to a buffer; undone after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    config = json_logging_config("INFO")
    logging.config.dictConfig(config)
    stream = io.StringIO()
    [handler] = [h for h in root.handlers if h.get_name() == "ctxcarry_json"]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    structlog.configure(
        processors=structlog_processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]
    structlog.configure(**saved[2])


def test_the_json_recipe_gives_stdlib_and_structlog_lines_the_same_context(
    json_logs: io.StringIO, tracer: trace.Tracer
) -> None:
    def scenario() -> None:
        structlog.contextvars.bind_contextvars(request_id="r-9")
        with tracer.start_as_current_span("task"), log_tenant("acme"):
            logging.getLogger("celery.app.trace").info("Task %s succeeded", "t")
            structlog.get_logger("app").info("charged", amount=3)
        with extract({"structlog_context": {"bad key!": 1}}):  # ctxcarry's own warning
            pass

    contextvars.Context().run(scenario)
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [line["event"] for line in lines[:2]] == ["Task t succeeded", "charged"]
    for line in lines[:2]:
        assert line["request_id"] == "r-9", line
        assert line["logs_tenant"] == "acme", line
        assert len(line["trace_id"]) == 32, line
    assert (lines[2]["logger"], lines[2]["request_id"]) == ("ctxcarry", "r-9")
    assert lines[1]["amount"] == 3
