"""Eager mode (``task_always_eager``, ``Task.apply()``): no publish signal fires.

The task must see the caller's context, and the caller's context must be
exactly intact afterwards -- including when the task binds keys or fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from celery import Celery
from opentelemetry import context as otel_context
from opentelemetry import trace

from ctxcarry import Carrier, QueueVar
from ctxcarry.adapters.celery import HEADER
from tests.celery.apps import FlakyError, request_id, tenant


@pytest.fixture
def eager_app(celery_app: Celery) -> Iterator[Celery]:
    celery_app.conf.task_always_eager = True
    yield celery_app
    celery_app.conf.task_always_eager = False


def _caller_state() -> tuple[Any, ...]:
    return (
        tenant.get(),
        tenant.is_set(),
        request_id.is_set(),
        dict(structlog.contextvars.get_contextvars()),
        otel_context.get_current(),
    )


@pytest.mark.parametrize(
    "run",
    [
        lambda app: app.tasks["ctx.bind_and_report"].delay("extra").get(),
        lambda app: app.tasks["ctx.bind_and_report"].apply(args=("extra",)).get(),
        lambda app: app.tasks["ctx.bind_and_report"].s("extra").apply_async().get(),
    ],
    ids=["always_eager_delay", "apply", "always_eager_signature"],
)
def test_eager_task_sees_the_caller_context_and_leaves_it_intact(
    eager_app: Celery, tracer: trace.Tracer, run: Any
) -> None:
    structlog.contextvars.bind_contextvars(user_id=42)
    with tracer.start_as_current_span("caller") as span, tenant("acme"):
        before = _caller_state()
        report = run(eager_app)
        after = _caller_state()
    assert report["tenant"] == "set-by-task"  # the body changed it ...
    assert report["log"] == {"user_id": 42, "extra": "bound-by-task"}
    assert report["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert after == before  # ... and the caller sees none of it
    assert after[3] == {"user_id": 42}


def test_eager_task_that_fails_leaves_the_caller_context_intact(eager_app: Celery) -> None:
    structlog.contextvars.bind_contextvars(user_id=42)
    with tenant("acme"):
        before = _caller_state()
        with pytest.raises(FlakyError):
            eager_app.tasks["ctx.fail"].apply(throw=True)
        assert _caller_state() == before


def test_eager_retry_keeps_the_caller_context(eager_app: Celery) -> None:
    with tenant("acme"):
        before = _caller_state()
        report = eager_app.tasks["ctx.retry_once"].delay().get()
        assert _caller_state() == before
    assert report["retries"] == 1
    assert report["tenant"] == "acme"


def test_eager_apply_with_a_carrier_header_restores_it_then_undoes_it(
    eager_app: Celery,
) -> None:
    with tenant("other"), request_id("req-9"):
        carried = Carrier().inject()
    structlog.contextvars.bind_contextvars(user_id=42)
    with tenant("acme"):
        before = _caller_state()
        report = eager_app.tasks["ctx.report"].apply(headers={HEADER: carried}).get()
        assert _caller_state() == before
    assert report["tenant"] == "other"
    assert report["request_id"] == "req-9"
    assert report["log"] == {"user_id": 42}


def test_eager_without_context_binds_nothing(eager_app: Celery) -> None:
    report = eager_app.tasks["ctx.report"].delay().get()
    assert report["tenant"] is None
    assert report["log"] == {}
    assert structlog.contextvars.get_contextvars() == {}
    assert not tenant.is_set()


def test_an_unrelated_queuevar_set_by_the_caller_is_visible_in_eager_tasks(
    eager_app: Celery,
) -> None:
    region = QueueVar("celery_tests.eager_region", default="none")

    @eager_app.task(name="ctx.read_region", shared=False)
    def read_region() -> str:
        return region.get()

    with region("eu"):
        assert read_region.delay().get() == "eu"
        assert region.get() == "eu"
