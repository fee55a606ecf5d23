"""Coexistence with opentelemetry-instrumentation-celery, in both receiver orders.

With the instrumentor active, spans made in a task body are children of its
``run/<task>`` span (not of the publisher's span), and nothing is left attached
afterwards, whichever of the two was connected to Celery's signals first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery, signals
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ctxcarry import Carrier
from ctxcarry.adapters.celery import HEADER, install, uninstall
from tests.celery.apps import tenant
from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker

OUR_UID = "ctxcarry.adapters.celery"


def _our_prerun_position() -> tuple[int, int]:
    """(our index, instrumentor's index) among the task_prerun receivers."""
    keys = [key for key, _ in signals.task_prerun.receivers]
    ours = next(i for i, (uid, _) in enumerate(keys) if uid == OUR_UID)
    theirs = max(i for i, (uid, _) in enumerate(keys) if uid != OUR_UID)
    return ours, theirs


def _reinstall(app: Celery) -> None:
    """Install again, so that our receivers connect after any connected now."""
    uninstall(app)  # the last installed app: the receivers are disconnected
    install(app)


@pytest.fixture(params=["instrumentor_first", "ctxcarry_first"])
def instrumented(request: pytest.FixtureRequest, celery_app: Celery) -> Iterator[str]:
    """The instrumentor active in this process, connected before or after ctxcarry."""
    instrumentor = CeleryInstrumentor()
    if request.param == "instrumentor_first":
        instrumentor.instrument()
        _reinstall(celery_app)
    else:
        _reinstall(celery_app)
        instrumentor.instrument()
    ours, theirs = _our_prerun_position()
    assert (ours > theirs) == (request.param == "instrumentor_first")
    yield request.param
    instrumentor.uninstrument()


def _by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {span.name: span for span in exporter.get_finished_spans()}


@pytest.mark.integration
def test_body_spans_are_children_of_the_instrumentor_run_span(
    instrumented: str,
    celery_app: Celery,
    in_process_worker: Any,
    tracer: trace.Tracer,
    span_exporter: InMemorySpanExporter,
) -> None:
    with (
        in_process_worker(celery_app, pool="threads", concurrency=1),
        tracer.start_as_current_span("web-request") as web,
        tenant("acme"),
    ):
        report = celery_app.tasks["ctx.report_in_span"].delay().get(timeout=RESULT_TIMEOUT)
    spans = _by_name(span_exporter)
    run = spans["run/ctx.report_in_span"]
    body = spans["task-body"]
    assert body.parent.span_id == run.context.span_id
    assert run.parent.span_id == spans["apply_async/ctx.report_in_span"].context.span_id
    assert run.context.trace_id == web.get_span_context().trace_id
    assert report["span_name"] == "run/ctx.report_in_span"
    assert report["tenant"] == "acme"  # the rest of the context is still carried


def test_eager_run_with_the_instrumentor_leaves_the_otel_context_intact(
    instrumented: str,
    celery_app: Celery,
    tracer: trace.Tracer,
    span_exporter: InMemorySpanExporter,
) -> None:
    with tracer.start_as_current_span("elsewhere"):
        carried = Carrier().inject()  # a carrier with another trace in it
    before = otel_context.get_current()
    report = celery_app.tasks["ctx.report_in_span"].apply(headers={HEADER: carried}).get()
    assert otel_context.get_current() is before
    spans = _by_name(span_exporter)
    assert spans["task-body"].parent.span_id == spans["run/ctx.report_in_span"].context.span_id
    assert report["span_name"] == "run/ctx.report_in_span"


@pytest.mark.integration
def test_without_the_instrumentor_body_spans_are_children_of_the_publisher_span(
    celery_app: Celery,
    in_process_worker: Any,
    tracer: trace.Tracer,
) -> None:
    with (
        in_process_worker(celery_app, pool="threads", concurrency=1),
        tracer.start_as_current_span("web-request") as web,
    ):
        report = celery_app.tasks["ctx.report_in_span"].delay().get(timeout=RESULT_TIMEOUT)
    assert report["body"]["span_parent_id"] == f"{web.get_span_context().span_id:016x}"
    assert report["body"]["trace_id"] == f"{web.get_span_context().trace_id:032x}"


@pytest.mark.integration
def test_instrumented_prefork_worker_parents_body_spans_on_its_run_span(
    subprocess_worker: Callable[..., tuple[Celery, SubprocessWorker]],
    tracer: trace.Tracer,
) -> None:
    app, _ = subprocess_worker("prefork", concurrency=1, otel=True)
    instrumentor = CeleryInstrumentor()
    instrumentor.instrument()  # the publishing side is instrumented too, as OTel advises
    try:
        with tracer.start_as_current_span("web-request") as web, tenant("acme"):
            first = app.tasks["ctx.report_in_span"].delay().get(timeout=RESULT_TIMEOUT)
        second = app.tasks["ctx.report_in_span"].delay().get(timeout=RESULT_TIMEOUT)
    finally:
        instrumentor.uninstrument()
    assert first["span_name"] == "run/ctx.report_in_span"
    assert first["body"]["span_parent_id"] == first["span_id"]
    assert first["trace_id"] == f"{web.get_span_context().trace_id:032x}"
    assert first["tenant"] == "acme"
    # Same child process, next task: nothing of the first task's trace or context is left.
    assert second["pid"] == first["pid"]
    assert second["trace_id"] != first["trace_id"]
    assert second["body"]["span_parent_id"] == second["span_id"]
    assert second["tenant"] is None
