"""extract(): replace semantics inside the block, exact restore after it."""

from __future__ import annotations

import logging

import pytest
import structlog
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from ctxcarry import Carrier, CarrierError, QueueContext, extract, inject, priority
from tests.core.helpers import context_state
from tests.core.vars import org_id, region, tenant_id

bind = structlog.contextvars.bind_contextvars
get_log = structlog.contextvars.get_contextvars


def test_round_trip_restores_queuevars_and_structlog_keys() -> None:
    bind(request_id="r-1")
    with tenant_id("acme"), org_id(42), priority(9):
        carrier = inject()
    structlog.contextvars.clear_contextvars()
    with extract(carrier) as ctx:
        assert isinstance(ctx, QueueContext)
        assert (tenant_id.get(), org_id.get(), priority.get()) == ("acme", 42, 9)
        assert get_log() == {"request_id": "r-1"}
        assert ctx[tenant_id] == "acme"
    assert tenant_id.get() is None
    assert get_log() == {}


def test_queue_context_is_a_complete_read_only_mapping() -> None:
    with tenant_id("acme"), org_id(1):
        carrier = inject()
    ctx = QueueContext.from_carrier(carrier)
    assert len(ctx) == 2
    assert set(ctx) == {tenant_id, org_id}
    assert tenant_id in ctx
    assert region not in ctx
    assert ctx.get(region, "unknown") == "unknown"
    assert ctx.get(tenant_id) == "acme"
    with pytest.raises(KeyError):
        ctx[region]
    assert "not a var" not in ctx
    assert ctx.as_dict() == {"core_tenant_id": "acme", "core_org_id": 1}
    assert not hasattr(ctx, "__setitem__")
    assert tenant_id.get() is None  # from_carrier changes nothing


def test_replace_semantics_nothing_left_over_from_the_worker() -> None:
    carrier = inject()  # nothing set by the producer
    with tenant_id("left-over"), region("us-east"), extract(carrier):
        assert tenant_id.get() is None
        assert region.get() == "eu-west"
        assert not tenant_id.is_set()
        assert inject() == {}  # and nothing of the worker's travels onward


def test_worker_bindings_survive_and_carried_keys_go_on_top() -> None:
    bind(worker_id="w-1", request_id="worker-default")
    with extract({"structlog_context": {"request_id": "r-9", "user": 3}}):
        assert get_log() == {"worker_id": "w-1", "request_id": "r-9", "user": 3}
    assert get_log() == {"worker_id": "w-1", "request_id": "worker-default"}


def test_exit_restores_exactly_including_keys_the_handler_bound() -> None:
    bind(worker_id="w-1")
    with tenant_id("outer"):
        before = context_state()
        carrier = {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "structlog_context": {"request_id": "r"},
            "ctxcarry": {"v": 1, "vars": {"core_tenant_id": "inner"}},
        }
        with extract(carrier):
            bind(handler_key="leak?", worker_id="changed", request_id="changed")
            structlog.contextvars.unbind_contextvars("request_id")
            tenant_id.set("changed")
            org_id.set(7)
            region.set("changed")
            otel_context.attach(baggage.set_baggage("k", "v"))  # never detached
        assert context_state() == before


def test_without_a_carried_trace_the_otel_context_is_left_alone() -> None:
    # Another library's attach/detach pair interleaves with the block (as Celery's
    # signal receivers do): extract must neither undo nor re-apply it.
    other = otel_context.attach(otel_context.set_value("other-library", "v"))
    block = extract({"structlog_context": {"request_id": "r"}})
    block.__enter__()
    otel_context.detach(other)
    block.__exit__(None, None, None)
    assert otel_context.get_value("other-library") is None


def test_exit_restores_exactly_after_an_exception() -> None:
    bind(worker_id="w-1")
    before = context_state()

    def failing_handler() -> None:
        bind(b=2)
        tenant_id.set("x")
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError), extract({"structlog_context": {"a": 1}}):
        failing_handler()
    assert context_state() == before


def test_spans_inside_are_children_of_the_enqueuing_span(
    tracer: trace.Tracer, span_exporter: object
) -> None:
    with tracer.start_as_current_span("enqueue") as parent:
        carrier = inject()
    before = otel_context.get_current()
    with extract(carrier), tracer.start_as_current_span("task") as child:
        pass
    assert otel_context.get_current() is before
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id
    assert child.get_span_context().trace_id == parent.get_span_context().trace_id


def test_nested_enqueue_carries_the_restored_context_onward(tracer: trace.Tracer) -> None:
    bind(request_id="r-1")
    with tenant_id("acme"), tracer.start_as_current_span("enqueue") as root:
        first = inject()
    structlog.contextvars.clear_contextvars()
    with extract(first), tracer.start_as_current_span("task") as task_span:
        second = inject()
    with extract(second) as ctx:
        assert tenant_id.get() == "acme"
        assert get_log() == {"request_id": "r-1"}
        assert ctx.trace_headers["traceparent"].split("-")[1] == format(
            root.get_span_context().trace_id, "032x"
        )
        assert ctx.trace_headers["traceparent"].split("-")[2] == format(
            task_span.get_span_context().span_id, "016x"
        )


def test_restore_trace_policies(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("enqueue") as enqueue:
        carrier = inject()
    enqueue_id = enqueue.get_span_context().span_id
    with tracer.start_as_current_span("consumer") as consumer:
        consumer_id = consumer.get_span_context().span_id
        for policy, expected in (
            ("always", enqueue_id),
            ("if_no_active_span", consumer_id),
            ("never", consumer_id),
        ):
            with extract(carrier, restore_trace=policy):  # type: ignore[arg-type]
                current = trace.get_current_span().get_span_context().span_id
            assert current == expected, policy
    with extract(carrier, restore_trace="if_no_active_span"):
        assert trace.get_current_span().get_span_context().span_id == enqueue_id


def test_carried_baggage_is_restored(tracer: trace.Tracer) -> None:
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        carrier = inject()
    finally:
        otel_context.detach(token)
    with extract(carrier):
        assert baggage.get_baggage("tenant") == "acme"
    assert baggage.get_baggage("tenant") is None


def test_an_extraction_is_one_shot() -> None:
    block = extract({})
    with block, pytest.raises(RuntimeError, match="already active"):
        block.__enter__()


def test_enter_and_exit_can_be_split_across_hooks_in_one_context() -> None:
    bind(worker_id="w")
    before = context_state()
    block = extract({"structlog_context": {"request_id": "r"}})
    block.__enter__()
    bind(task_key=1)
    assert get_log()["request_id"] == "r"
    block.__exit__(None, None, None)
    assert context_state() == before


def test_warning_is_logged_inside_the_restored_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[dict[str, object]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(get_log())

    handler = Capture()
    logging.getLogger("ctxcarry").addHandler(handler)
    try:
        with extract({"structlog_context": {"request_id": "r", "bad key": 1}}):
            pass
    finally:
        logging.getLogger("ctxcarry").removeHandler(handler)
    assert seen == [{"request_id": "r"}]


def test_strict_extract_raises_before_changing_anything() -> None:
    before = context_state()
    strict = Carrier(strict=True)
    with (
        pytest.raises(CarrierError, match="not registered"),
        strict.extract({"ctxcarry": {"v": 1, "vars": {"core_from_the_future": 1}}}),
    ):
        pytest.fail("the block must not run in strict mode")
    assert context_state() == before


def test_run_calls_in_a_copy_so_nothing_leaks_into_the_caller() -> None:
    def handler() -> str | None:
        bind(leaked=True)
        tenant_id.set("also leaked")
        return tenant_id.get()

    with tenant_id("acme"):
        carrier = inject()
    assert Carrier().run(carrier, handler) == "also leaked"
    assert get_log() == {}
    assert tenant_id.get() is None
