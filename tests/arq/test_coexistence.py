"""opentelemetry-instrumentation-arq and sentry-sdk's ArqIntegration, with the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.arq.conftest import StartWorker, producer, result, run
from tests.arq.worker_app import tenant

pytestmark = pytest.mark.integration


@pytest.fixture
def instrumented_producer() -> Iterator[None]:
    """opentelemetry-instrumentation-arq in this (producer) process for the test."""
    from opentelemetry.instrumentation.arq import ArqInstrumentor

    ArqInstrumentor().instrument()
    yield
    ArqInstrumentor().uninstrument()


async def _enqueue(url: str, queue: str, function: str, tracer: trace.Tracer) -> Any:
    pool = await producer(url, queue)
    try:
        structlog.contextvars.bind_contextvars(request_id="r-otel")
        with tracer.start_as_current_span("web request"), tenant("acme"):
            job = await pool.enqueue_job(function)
        return await result(job)
    finally:
        await pool.aclose()


def test_with_the_otel_instrumentation_on_both_sides(
    arq_worker: StartWorker,
    instrumented_producer: None,
    tracer: trace.Tracer,
    span_exporter: InMemorySpanExporter,
) -> None:
    worker = arq_worker(mode="otel")
    report = run(_enqueue(worker.url, worker.queue, "report", tracer))

    web = next(s for s in span_exporter.get_finished_spans() if s.name == "web request")
    client = next(s for s in span_exporter.get_finished_spans() if s.name == "report")
    server = next(s for s in worker.jsonl(worker.spans_path) if s["kind"] == "SERVER")
    assert client.parent is not None
    assert client.parent.span_id == web.context.span_id
    # the job span is the instrumentation's, child of its own enqueue span ...
    assert server["parent"] == f"{client.context.span_id:016x}"
    assert server["trace_id"] == f"{web.context.trace_id:032x}"
    # ... the job body runs inside it, and the rest of the context travelled too
    assert report["span_id"] == server["span_id"]
    assert report["trace_id"] == server["trace_id"]
    assert report["tenant"] == "acme"
    assert report["log"]["request_id"] == "r-otel"
    assert report["kwargs"] == []  # the instrumentation's _carrier kwarg was taken out


def test_instrumented_worker_uninstrumented_producer(
    arq_worker: StartWorker, tracer: trace.Tracer
) -> None:
    """Only the worker is instrumented: its job span starts a new trace (its choice).

    QueueVars and structlog keys still travel; instrument the producers too
    to keep one trace (see docs/adapters/arq.md).
    """
    worker = arq_worker(mode="otel")
    report = run(_enqueue(worker.url, worker.queue, "report", tracer))
    server = next(s for s in worker.jsonl(worker.spans_path) if s["kind"] == "SERVER")
    assert server["parent"] is None
    assert report["span_id"] == server["span_id"]
    assert report["tenant"] == "acme"
    assert report["log"]["request_id"] == "r-otel"


@pytest.fixture
def sentry_producer() -> Iterator[list[Any]]:
    """sentry-sdk with its ArqIntegration in this (producer) process; events kept in a list."""
    import sentry_sdk
    from sentry_sdk.integrations.arq import ArqIntegration
    from sentry_sdk.transport import Transport

    events: list[Any] = []

    class ListTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            events.append(envelope)

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=ListTransport,
        integrations=[ArqIntegration()],
        traces_sample_rate=1.0,
        default_integrations=False,
    )
    yield events
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_with_sentry_on_both_sides(
    arq_worker: StartWorker, sentry_producer: list[Any], tracer: trace.Tracer
) -> None:
    import sentry_sdk

    worker = arq_worker(mode="sentry")
    with sentry_sdk.start_transaction(name="web request"):
        report = run(_enqueue(worker.url, worker.queue, "report", tracer))
    assert report["tenant"] == "acme"
    assert report["log"] == {
        "request_id": "r-otel",
        "task_id": report["job_id"],
        "task_name": "report",
    }

    async def failing() -> str:
        pool = await producer(worker.url, worker.queue)
        try:
            job = await pool.enqueue_job("fail")
            with pytest.raises(ValueError, match="boom"):
                await result(job)
            return str(job.job_id)
        finally:
            await pool.aclose()

    job_id = run(failing())
    sentry_sdk.flush()
    errors = [e for e in worker.jsonl(worker.events_path) if e.get("exception")]
    assert any(e.get("tags", {}).get("arq_task_id") == job_id for e in errors), errors
