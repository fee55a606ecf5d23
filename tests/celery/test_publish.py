"""Every publish path carries the context to a real worker (Redis, in-process worker)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from celery import Celery, signature
from opentelemetry import trace

from ctxcarry import priority
from ctxcarry.adapters.celery import HEADER
from tests.celery.apps import request_id, tenant
from tests.celery.conftest import RESULT_TIMEOUT

pytestmark = pytest.mark.integration


def _trace_id(span: trace.Span) -> str:
    return f"{span.get_span_context().trace_id:032x}"


def _assert_carried(report: dict[str, Any], span: trace.Span) -> None:
    assert report["tenant"] == "acme"
    assert report["request_id"] == "req-1"
    assert report["log"] == {"user_id": 42}
    assert report["trace_id"] == _trace_id(span)
    assert report["span_id"] == f"{span.get_span_context().span_id:016x}"


PUBLISHERS = {
    "delay": lambda app: app.tasks["ctx.report"].delay(),
    "apply_async": lambda app: app.tasks["ctx.report"].apply_async(countdown=0),
    "send_task": lambda app: app.send_task("ctx.report"),
    "signature": lambda app: signature("ctx.report", app=app).apply_async(),
    "immutable_signature": lambda app: app.tasks["ctx.report"].si().delay(),
}


@pytest.mark.parametrize("publish", PUBLISHERS.values(), ids=PUBLISHERS.keys())
def test_each_publish_path_carries_the_context(
    worker_app: Celery, tracer: trace.Tracer, publish: Any
) -> None:
    structlog.contextvars.bind_contextvars(user_id=42)
    with tracer.start_as_current_span("web-request") as span, tenant("acme"), request_id("req-1"):
        result = publish(worker_app)
        report = result.get(timeout=RESULT_TIMEOUT)
    _assert_carried(report, span)


def test_caller_headers_survive_next_to_the_carrier(worker_app: Celery) -> None:
    published: list[dict[str, Any]] = []

    def capture(headers: dict[str, Any], **_: Any) -> None:
        published.append(dict(headers))

    from celery.signals import after_task_publish

    after_task_publish.connect(capture, weak=False, dispatch_uid="test-capture-headers")
    try:
        with tenant("acme"):
            result = worker_app.tasks["ctx.report"].apply_async(headers={"x-caller": "mine"})
            report = result.get(timeout=RESULT_TIMEOUT)
    finally:
        after_task_publish.disconnect(dispatch_uid="test-capture-headers")
    assert report["caller_header"] == "mine"
    assert report["tenant"] == "acme"
    (headers,) = published
    assert headers["x-caller"] == "mine"
    assert headers[HEADER] == {
        "ctxcarry": {
            "v": 1,
            "vars": {"celery_tests.tenant": "acme"},
            "modules": {"celery_tests.tenant": "tests.celery.apps"},
        }
    }


def test_sentry_style_nested_headers_do_not_hide_the_carrier(worker_app: Celery) -> None:
    # sentry-sdk puts a nested "headers" dict in the message; request.headers is then that dict.
    with tenant("acme"):
        result = worker_app.tasks["ctx.report"].apply_async(headers={"headers": {"sentry": "1"}})
        report = result.get(timeout=RESULT_TIMEOUT)
    assert report["tenant"] == "acme"


def test_publishing_with_nothing_bound_sends_no_header(worker_app: Celery) -> None:
    published: list[dict[str, Any]] = []

    def capture(headers: dict[str, Any], **_: Any) -> None:
        published.append(dict(headers))

    from celery.signals import after_task_publish

    after_task_publish.connect(capture, weak=False, dispatch_uid="test-capture-empty")
    try:
        report = worker_app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)
    finally:
        after_task_publish.disconnect(dispatch_uid="test-capture-empty")
    assert HEADER not in published[0]
    assert report["tenant"] is None
    assert report["log"] == {}


def test_priority_queuevar_becomes_the_message_priority(worker_app: Celery) -> None:
    with priority(3):
        implicit = worker_app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)
        explicit = (
            worker_app.tasks["ctx.report"].apply_async(priority=7).get(timeout=RESULT_TIMEOUT)
        )
    plain = worker_app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)
    assert implicit["message_priority"] == 3
    assert implicit["priority_var"] == 3
    assert explicit["message_priority"] == 7  # the caller's explicit priority wins
    assert plain["message_priority"] in (None, 0)  # the transport default


def test_uncarriable_and_oversized_context_never_fails_a_publish(
    worker_app: Celery, caplog: pytest.LogCaptureFixture
) -> None:
    structlog.contextvars.bind_contextvars(
        ok="kept", not_json={1, 2}, huge="x" * 100_000, obj=object()
    )
    with caplog.at_level(logging.WARNING, logger="ctxcarry"), tenant("acme"):
        report = worker_app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)
    assert report["tenant"] == "acme"
    assert report["log"] == {"ok": "kept"}
    warnings = [r for r in caplog.records if r.name == "ctxcarry" and "inject" in r.getMessage()]
    assert len(warnings) == 1


def test_the_default_budget_keeps_the_header_inside_a_rabbitmq_frame(worker_app: Celery) -> None:
    published: list[dict[str, Any]] = []

    def capture(headers: dict[str, Any], **_: Any) -> None:
        published.append(dict(headers))

    import json

    from celery.signals import after_task_publish

    for index in range(60):
        structlog.contextvars.bind_contextvars(**{f"key_{index}": "v" * 4000})
    after_task_publish.connect(capture, weak=False, dispatch_uid="test-capture-budget")
    try:
        worker_app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)
    finally:
        after_task_publish.disconnect(dispatch_uid="test-capture-budget")
    size = len(json.dumps(published[0][HEADER], separators=(",", ":")))
    assert 16 * 1024 < size <= 32 * 1024 < 128 * 1024
