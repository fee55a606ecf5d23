"""``SEPARATE_THREAD`` and ``SYNCHRONOUSLY``: the function sees the caller's context."""

from __future__ import annotations

import pytest
import structlog
from django.db import transaction
from opentelemetry import trace

from tests.task_processor.task_functions import record_context, recorder, tenant

pytestmark = pytest.mark.integration


@pytest.mark.usefixtures("db", "separate_thread_method")
def test_separate_thread_sees_the_context_of_the_delay_call(
    django_capture_on_commit_callbacks: object, tracer: trace.Tracer
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1")
    with (
        django_capture_on_commit_callbacks(execute=True),  # type: ignore[operator]
        tracer.start_as_current_span("enqueue") as enqueue,
        tenant("acme"),
    ):
        record_context.delay(args=("k",), kwargs={"bind_own": True})
        structlog.contextvars.bind_contextvars(request_id="changed-before-commit")

    seen = recorder.wait("k")["k"]
    assert seen.log == {"request_id": "r-1"}
    assert seen.tenant == "acme"
    assert seen.trace_id == enqueue.get_span_context().trace_id
    assert seen.thread != "MainThread"
    assert structlog.contextvars.get_contextvars() == {"request_id": "changed-before-commit"}


@pytest.mark.usefixtures("transactional_db", "separate_thread_method")
def test_separate_thread_starts_at_a_real_commit_with_the_context() -> None:
    structlog.contextvars.bind_contextvars(request_id="r-2")
    with transaction.atomic():
        record_context.delay(args=("in-transaction",))
        assert recorder.get("in-transaction") is None, "starts only at commit"
    record_context.delay(args=("no-transaction",))  # outside a transaction: starts at once

    seen = recorder.wait("in-transaction", "no-transaction")
    assert seen["in-transaction"].log == {"request_id": "r-2"}
    assert seen["no-transaction"].log == {"request_id": "r-2"}


@pytest.mark.usefixtures("db", "synchronous_method")
def test_synchronously_sees_the_callers_context_and_leaves_it_intact(
    tracer: trace.Tracer,
) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-3")
    with tracer.start_as_current_span("caller") as caller, tenant("acme"):
        record_context.delay(args=("k",), kwargs={"bind_own": True})

        assert structlog.contextvars.get_contextvars() == {"request_id": "r-3"}
        assert tenant.get() == "acme"
        assert trace.get_current_span() is caller

    seen = recorder.wait("k")["k"]
    assert seen.log == {"request_id": "r-3"}
    assert seen.tenant == "acme"
    assert seen.thread == "MainThread"
    assert seen.trace_id == caller.get_span_context().trace_id
