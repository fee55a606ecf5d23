"""Next to Taskiq's own ``OpenTelemetryMiddleware``, in either order, on a real worker.

The carried trace is attached only when no span is active: with the OTel
middleware before ours, its CONSUMER span is already current and must stay
the parent of the task body's spans; with ours first, the carried trace is
attached and the OTel middleware's span is started inside it.
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace

from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started

pytestmark = pytest.mark.integration


def _send(worker_otel: str, producer_otel: str, workers: Workers, sink: Sink) -> tuple[str, dict]:
    worker = workers.get(otel=worker_otel)

    async def send() -> str:
        async with started(producer(worker, otel=producer_otel)) as broker:
            with trace.get_tracer("taskiq-tests").start_as_current_span("web-request") as span:
                with tenant("traced"):
                    await broker.find_task("ctx.report").kiq(sink.key, worker_otel)
                return format(span.get_span_context().trace_id, "032x")

    trace_id = asyncio.run(send())
    (seen,) = sink.take()
    return trace_id, seen


@pytest.mark.parametrize("producer_otel", ["first", "last"])
@pytest.mark.parametrize("worker_otel", ["first", "last"])
def test_the_otel_consumer_span_is_current_in_the_task_in_either_order(
    workers: Workers, sink: Sink, worker_otel: str, producer_otel: str
) -> None:
    trace_id, seen = _send(worker_otel, producer_otel, workers, sink)
    assert seen["span_name"] == "execute/ctx.report"
    assert seen["trace_id"] == trace_id
    assert seen["tenant"] == "traced"


def test_without_otel_on_the_producer_the_consumer_span_continues_the_carried_trace(
    workers: Workers, sink: Sink
) -> None:
    """Ours first (``install`` puts it there): the OTel span starts inside the carried trace."""
    trace_id, seen = _send("last", "none", workers, sink)
    assert seen["span_name"] == "execute/ctx.report"
    assert seen["trace_id"] == trace_id


def test_without_otel_on_the_worker_the_carried_trace_is_attached(
    workers: Workers, sink: Sink
) -> None:
    trace_id, seen = _send("none", "none", workers, sink)
    assert seen["trace_id"] == trace_id
    assert seen["span_name"] is None  # the caller's span context, not a local span
