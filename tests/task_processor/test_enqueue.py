"""Enqueue: ``.delay()`` stamps the caller's context onto new ``Task`` rows only."""

from __future__ import annotations

import logging
import os
import uuid

import pytest
import structlog
from django.utils import timezone
from opentelemetry import propagate, trace
from task_processor.models import RecurringTask, Task
from task_processor.task_registry import initialise

from ctxcarry import ENVELOPE_KEY, STRUCTLOG_KEY
from ctxcarry.adapters.task_processor import install, uninstall
from tests.task_processor.task_functions import record_context, tenant

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("db", "task_processor_method")]


def _stored(task: Task | None) -> Task:
    assert task is not None
    return Task.objects.get(pk=task.pk)


def test_delay_stores_bindings_beside_the_untouched_w3c_keys(tracer: trace.Tracer) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1", user_id=7)
    with tracer.start_as_current_span("enqueue"), tenant("acme"):
        upstream: dict[str, str] = {}
        propagate.inject(upstream)
        task = _stored(record_context.delay(args=("k",)))

    assert task.trace_context == {
        **upstream,
        STRUCTLOG_KEY: {"request_id": "r-1", "user_id": 7},
        ENVELOPE_KEY: {
            "v": 1,
            "vars": {"tp_tenant": "acme"},
            "modules": {"tp_tenant": "tests.task_processor.task_functions"},
        },
    }


def test_trace_context_stays_none_with_no_trace_and_nothing_bound() -> None:
    task = _stored(record_context.delay(args=("k",)))

    assert task.trace_context is None


def test_only_the_w3c_keys_when_only_a_span_is_active(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("enqueue"):
        upstream: dict[str, str] = {}
        propagate.inject(upstream)
        task = _stored(record_context.delay(args=("k",)))

    assert task.trace_context == upstream
    assert set(upstream) == {"traceparent"}


def test_bindings_are_carried_without_any_trace() -> None:
    structlog.contextvars.bind_contextvars(request_id="r-2")

    task = _stored(record_context.delay(args=("k",)))

    assert task.trace_context is not None
    assert "traceparent" not in task.trace_context
    assert task.trace_context[STRUCTLOG_KEY] == {"request_id": "r-2"}


def test_non_json_values_never_make_delay_raise(caplog: pytest.LogCaptureFixture) -> None:
    request_id = uuid.uuid4()
    structlog.contextvars.bind_contextvars(request_id=request_id, handle=object())

    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        task = _stored(record_context.delay(args=("k",)))

    assert task.trace_context is not None
    assert task.trace_context[STRUCTLOG_KEY] == {"request_id": str(request_id)}
    assert any("'handle'" in r.getMessage() for r in caplog.records)


def test_resaving_an_existing_task_does_not_stamp_it() -> None:
    task = _stored(record_context.delay(args=("k",)))
    structlog.contextvars.bind_contextvars(request_id="later")

    task.num_failures = 1
    task.save()

    assert _stored(task).trace_context is None


def test_raw_saves_are_not_stamped() -> None:
    """Fixtures loaded with ``loaddata`` save with ``raw=True``: they keep their data."""
    structlog.contextvars.bind_contextvars(request_id="loaddata")
    task = Task.create(task_identifier="ctxcarry_tp_record", scheduled_for=timezone.now())
    task.created_at = timezone.now()  # raw saves skip auto_now_add

    task.save_base(raw=True)

    assert _stored(task).trace_context is None


def test_recurring_tasks_are_never_stamped(tracer: trace.Tracer) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-3")
    with tracer.start_as_current_span("deploy"), tenant("acme"):
        initialise()  # creates the RecurringTask rows, as the processor does at start
        row = RecurringTask.objects.get(task_identifier="task_functions.ctxcarry_tp_recurring")
        row.is_locked = True
        row.save(update_fields=["is_locked"])

    assert RecurringTask.objects.get(pk=row.pk).trace_context is None


def test_task_arguments_are_never_changed(without_adapter: None) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-4")
    plain = _stored(record_context.delay(args=("k",), kwargs={"bind_own": True}))

    install()
    try:
        stamped = _stored(record_context.delay(args=("k",), kwargs={"bind_own": True}))
    finally:
        uninstall()

    assert plain.trace_context is None
    assert stamped.trace_context is not None
    assert (stamped.serialized_args, stamped.serialized_kwargs) == (
        plain.serialized_args,
        plain.serialized_kwargs,
    )


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", os.fsdecode(b"\xff")])
def test_nul_and_lone_surrogates_never_make_delay_raise_on_postgresql(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10 item 2: jsonb refuses ``\\u0000`` and unpaired surrogates.

    A structlog value has each offending code point replaced by U+FFFD (named in
    the one warning); a QueueVar refuses the value where it is set.
    """
    structlog.contextvars.bind_contextvars(path=text, request_id="r-5")

    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        task = _stored(record_context.delay(args=("k",)))
    with pytest.raises(TypeError, match="tp_tenant"):
        tenant.set(text)

    assert task.trace_context is not None
    fixed = text.replace("\x00", "\ufffd").replace("\ud800", "\ufffd").replace("\udcff", "\ufffd")
    assert task.trace_context[STRUCTLOG_KEY] == {"path": fixed, "request_id": "r-5"}
    assert any("'path'" in r.getMessage() for r in caplog.records)
