"""OpenTelemetry: the third-party opentelemetry-instrumentor-dramatiq and the adapter together.

The instrumentor (0.1.4) wraps ``Actor.message_with_options`` (a producer span, its
context in ``options["options"]["trace_context"]``) and the worker thread's
``process_message`` (it attaches that context around the whole message). Its
context is therefore active when our hook runs, so the carried trace is not
attached: spans in the actor are children of its producer span, as it intends;
QueueVars and structlog keys are restored as usual.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.dramatiq.app import tenant
from tests.dramatiq.conftest import WorkerFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def instrumented_producer() -> Iterator[None]:
    from opentelemetry_instrumentor_dramatiq import DramatiqInstrumentor

    instrumentor = DramatiqInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def test_the_instrumentors_span_is_the_parent_and_the_rest_is_restored(
    instrumented_producer: None,
    start_worker: WorkerFactory,
    span_exporter: InMemorySpanExporter,
    tracer: trace.Tracer,
) -> None:
    app, _ = start_worker("redis", threads=1, otel=True)
    span_exporter.clear()
    with tenant("otel-co"), tracer.start_as_current_span("web") as web:
        app.probe.send("otel")
    [report] = app.collect(1)
    [producer] = [s for s in span_exporter.get_finished_spans() if s.name.endswith(".probe")]
    assert report["tenant"] == "otel-co"
    assert report["trace_id"] == f"{web.get_span_context().trace_id:032x}"
    # The instrumentor's context, not the carried one (that would be the "web" span).
    assert report["span_id"] == f"{producer.context.span_id:016x}"
    assert report["span_id"] != f"{web.get_span_context().span_id:016x}"
