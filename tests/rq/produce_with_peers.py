"""A producer process with opentelemetry-instrumentation-rq and sentry-sdk beside ctxcarry.

Run as ``python -m tests.rq.produce_with_peers REDIS_URL QUEUE``: enqueues one
probe inside a span with a bound context and prints what it sent as JSON. A
separate process, because sentry-sdk's patches cannot be undone.
"""

from __future__ import annotations

import contextlib
import json
import sys

import redis
import sentry_sdk
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry_instrumentation_rq import RQInstrumentor
from rq import Queue
from sentry_sdk.integrations.rq import RqIntegration

from ctxcarry.adapters.rq import install
from tests.rq import jobs


def main(url: str, queue_name: str) -> None:
    trace.set_tracer_provider(TracerProvider())
    with contextlib.suppress(Exception):  # 0.1.4 raises on rq 3 (see worker_settings)
        RQInstrumentor().instrument()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        integrations=[RqIntegration()],
        traces_sample_rate=1.0,
        default_integrations=False,
        transport=lambda envelope: None,
    )
    install()
    queue = Queue(queue_name, connection=redis.Redis.from_url(url))
    tracer = trace.get_tracer("producer")
    with (
        sentry_sdk.start_transaction(name="web request"),
        tracer.start_as_current_span("web request") as span,
        structlog.contextvars.bound_contextvars(request_id="r-peers"),
        jobs.rq_tenant("acme"),
    ):
        job = queue.enqueue(jobs.probe, "peers")
        context = span.get_span_context()
    print(
        json.dumps(
            {
                "job": job.id,
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
