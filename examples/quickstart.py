"""ctxcarry in one file, no broker: a request's context reaches a worker thread.

Run it with ``python examples/quickstart.py``. A "web request" binds a tenant
(a QueueVar), a request id (a structlog key) and opens a span; it enqueues a
job on a plain ``queue.Queue`` with the carrier ``ctxcarry.inject()`` made. A
worker thread, which starts with an empty context like any worker, restores the
carrier with ``ctxcarry.extract()`` and logs. Both sides print the same
request id, tenant and trace id; after the job the worker is clean again.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

import structlog
from opentelemetry import trace

import ctxcarry
from ctxcarry import QueueVar

tenant: QueueVar[str | None] = QueueVar("quickstart_tenant", default=None)
log = structlog.get_logger()
jobs: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
seen_by_worker: list[dict[str, Any]] = []


def configure() -> None:
    """structlog prints key=value lines with the bound context; OTel records spans if it can."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    )
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:  # only the OTel API: spans are not recorded, no trace id travels
        return
    trace.set_tracer_provider(TracerProvider())


def current_trace_id() -> str | None:
    span = trace.get_current_span().get_span_context()
    return f"{span.trace_id:032x}" if span.is_valid else None


def handle_request(request_id: str, tenant_name: str) -> None:
    """The web side: bind the request's context, then enqueue a job with its carrier."""
    with (
        trace.get_tracer("quickstart").start_as_current_span("POST /reports"),
        tenant(tenant_name),
        structlog.contextvars.bound_contextvars(request_id=request_id),
    ):
        log.info("web: enqueue report", tenant=tenant.get(), trace_id=current_trace_id())
        jobs.put(("build_report", ctxcarry.inject()))


def worker() -> None:
    """The worker side: restore each job's carrier around the job, then forget it."""
    while (job := jobs.get()) is not None:
        name, carrier = job
        with ctxcarry.extract(carrier):
            seen = {
                "request_id": structlog.contextvars.get_contextvars().get("request_id"),
                "tenant": tenant.get(),
                "trace_id": current_trace_id(),
            }
            seen_by_worker.append(seen)
            log.info(f"worker: run {name}", tenant=tenant.get(), trace_id=current_trace_id())
        seen["clean_after"] = tenant.get() is None and not structlog.contextvars.get_contextvars()


def main() -> int:
    configure()
    thread = threading.Thread(target=worker, name="worker")
    thread.start()
    for request_id, tenant_name in [("req-1", "acme"), ("req-2", "globex")]:
        handle_request(request_id, tenant_name)
    jobs.put(None)
    thread.join()
    ok = [(s["request_id"], s["tenant"], s["clean_after"]) for s in seen_by_worker] == [
        ("req-1", "acme", True),
        ("req-2", "globex", True),
    ]
    if ok:
        print("OK: the worker saw each request's context, and was clean after each job")
    else:
        print(f"FAILED: the worker saw {seen_by_worker}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
