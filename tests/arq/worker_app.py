"""The arq worker the tests run as a real ``arq`` process (configured by environment).

``arq tests.arq.worker_app.WorkerSettings --custom-log-dict tests.arq.worker_app.LOG_CONFIG``

Environment:

- ``CTXCARRY_ARQ_REDIS``: Redis URL (the tests' DB 10); ``CTXCARRY_ARQ_QUEUE``: queue name;
- ``CTXCARRY_ARQ_MODE``: ``ctxcarry`` (the adapter), ``plain`` (a worker without it, as
  an old release would run), ``otel`` / ``otel-plain`` (opentelemetry-instrumentation-arq
  with / without the adapter), ``sentry`` (sentry-sdk's ArqIntegration and the adapter);
- ``CTXCARRY_ARQ_MAX_JOBS``; ``CTXCARRY_ARQ_CRON=1`` adds a cron job run at start-up;
  ``CTXCARRY_ARQ_STRICT=1`` installs a strict Carrier;
- ``CTXCARRY_ARQ_LOG``: JSON lines, one per log record of ``arq`` and ``tests``, with the
  structlog contextvars bound where the record was made;
- ``CTXCARRY_ARQ_SPANS`` / ``CTXCARRY_ARQ_EVENTS``: finished OTel spans / Sentry events as
  JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any, ClassVar

import structlog
from arq import Retry, cron
from arq.connections import RedisSettings
from opentelemetry import trace

from ctxcarry import Carrier, QueueVar

MODE = os.environ.get("CTXCARRY_ARQ_MODE", "ctxcarry")
QUEUE = os.environ.get("CTXCARRY_ARQ_QUEUE", "ctxcarry-arq-tests")
REDIS = os.environ.get("CTXCARRY_ARQ_REDIS", "redis://127.0.0.1:6379/10")
LOG_PATH = os.environ.get("CTXCARRY_ARQ_LOG", os.devnull)
SPANS_PATH = os.environ.get("CTXCARRY_ARQ_SPANS", os.devnull)
EVENTS_PATH = os.environ.get("CTXCARRY_ARQ_EVENTS", os.devnull)

tenant: QueueVar[str | None] = QueueVar("arq_tests.tenant", default=None)
job_logger = logging.getLogger("tests.arq.jobs")


class ContextLogHandler(logging.Handler):
    """Writes each record with the structlog contextvars current where it was made."""

    def __init__(self, path: str = LOG_PATH) -> None:
        super().__init__()
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        line = {
            "logger": record.name,
            "message": record.getMessage(),
            "context": {k: str(v) for k, v in structlog.contextvars.get_contextvars().items()},
        }
        with open(self.path, "a") as file:
            file.write(json.dumps(line) + "\n")


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"context": {"class": "tests.arq.worker_app.ContextLogHandler"}},
    "loggers": {
        "arq": {"handlers": ["context"], "level": "INFO"},
        "tests": {"handlers": ["context"], "level": "INFO"},
        "ctxcarry": {"handlers": ["context"], "level": "WARNING"},
    },
}


def _setup_tracing() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class FileExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            with open(SPANS_PATH, "a") as file:
                for span in spans:
                    parent = span.parent
                    file.write(
                        json.dumps(
                            {
                                "name": span.name,
                                "kind": span.kind.name,
                                "trace_id": f"{span.context.trace_id:032x}",
                                "span_id": f"{span.context.span_id:016x}",
                                "parent": f"{parent.span_id:016x}" if parent else None,
                                "attributes": {k: str(v) for k, v in span.attributes.items()},
                            }
                        )
                        + "\n"
                    )
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileExporter()))
    trace.set_tracer_provider(provider)


def _setup_sentry() -> None:
    import sentry_sdk
    from sentry_sdk.integrations.arq import ArqIntegration
    from sentry_sdk.transport import Transport

    class FileTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            event = envelope.get_event() or envelope.get_transaction_event()
            if event is not None:
                with open(EVENTS_PATH, "a") as file:
                    file.write(json.dumps(event, default=str) + "\n")

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=FileTransport,
        integrations=[ArqIntegration()],
        traces_sample_rate=1.0,
    )


_setup_tracing()
if MODE in ("otel", "otel-plain"):
    from opentelemetry.instrumentation.arq import ArqInstrumentor

    ArqInstrumentor().instrument()
if MODE == "sentry":
    _setup_sentry()


def _report(ctx: dict[str, Any], **extra: Any) -> dict[str, Any]:
    span = trace.get_current_span().get_span_context()
    return {
        "tenant": tenant.get(),
        "log": dict(structlog.contextvars.get_contextvars()),
        "trace_id": f"{span.trace_id:032x}" if span.is_valid else None,
        "span_id": f"{span.span_id:016x}" if span.is_valid else None,
        "job_id": ctx["job_id"],
        "job_try": ctx["job_try"],
        **extra,
    }


async def report(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """What the job sees; logs one line (checked for the context in the log file)."""
    job_logger.info("report job running")
    return _report(ctx, args=list(args), kwargs=sorted(kwargs))


async def bind_and_report(ctx: dict[str, Any]) -> dict[str, Any]:
    """Binds a key and sets the QueueVar in its body, never undoing them."""
    seen = _report(ctx)
    structlog.contextvars.bind_contextvars(job_bound="leak?")
    tenant.set("set-by-a-job")
    return seen


async def retry_once(ctx: dict[str, Any]) -> dict[str, Any]:
    """Try 1 binds a key, then asks for a retry; try 2 reports."""
    if ctx["job_try"] == 1:
        structlog.contextvars.bind_contextvars(first_try="leak?")
        raise Retry(defer=0.05)
    return _report(ctx)


async def nested(ctx: dict[str, Any], queue: str) -> dict[str, Any]:
    """Binds a key, then enqueues ``report`` through the worker's own pool."""
    structlog.contextvars.bind_contextvars(parent_step="bound-in-parent")
    child = await ctx["redis"].enqueue_job("report", _queue_name=queue)
    return _report(ctx, child=child.job_id)


_running = 0
_high_water = 0
#: ``concurrent`` jobs wait until this many of them run at once (at most 45 s: the
#: job timeout is 60 s, so a worker that never runs them all together fails the test).
BARRIER = int(os.environ.get("CTXCARRY_ARQ_BARRIER", "0"))
_all_running: asyncio.Event | None = None


async def _barrier() -> None:
    global _all_running
    if _all_running is None:
        _all_running = asyncio.Event()
    if _running >= BARRIER:
        _all_running.set()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_all_running.wait(), 45)


async def concurrent(ctx: dict[str, Any], index: int) -> dict[str, Any]:
    """Checks its own context across many awaits while hundreds of jobs interleave."""
    global _running, _high_water
    _running += 1
    _high_water = max(_high_water, _running)
    wrong: list[str] = []
    try:
        for step in range(5):
            if tenant.get() != f"tenant-{index}":
                wrong.append(f"step {step}: tenant {tenant.get()!r}")
            if structlog.contextvars.get_contextvars().get("request_id") != f"req-{index}":
                wrong.append(f"step {step}: log {structlog.contextvars.get_contextvars()}")
            structlog.contextvars.bind_contextvars(step=step, own=index)
            tenant.set(f"tenant-{index}")  # re-set: a leak would show in another job
            if step == 0:
                await _barrier()
            await asyncio.sleep(0.01 * ((index + step) % 3))
    finally:
        _running -= 1
    return _report(ctx, wrong=wrong, high_water=_high_water)


async def fail(ctx: dict[str, Any]) -> None:
    raise ValueError("boom from the job")


async def cron_report(ctx: dict[str, Any]) -> None:
    """Cron job: stores what it saw under ``<queue>:cron-report``."""
    await ctx["redis"].set(f"{QUEUE}:cron-report", json.dumps(_report(ctx)), ex=300)


async def on_startup(ctx: dict[str, Any]) -> None:
    """With cron: bindings made at start-up, in the worker's main task."""
    if os.environ.get("CTXCARRY_ARQ_CRON") == "1":
        structlog.contextvars.bind_contextvars(worker="w-startup")
        tenant.set("worker-default")


class WorkerSettings:
    functions: ClassVar[list[Any]] = [report, bind_and_report, retry_once, nested, concurrent, fail]
    cron_jobs: ClassVar[list[Any]] = (
        [cron(cron_report, run_at_startup=True, second=0, minute=0, hour=0)]
        if os.environ.get("CTXCARRY_ARQ_CRON") == "1"
        else []
    )
    on_startup = on_startup
    queue_name = QUEUE
    redis_settings = RedisSettings.from_dsn(REDIS)
    max_jobs = int(os.environ.get("CTXCARRY_ARQ_MAX_JOBS", "10"))
    poll_delay = 0.05
    keep_result = 120
    job_timeout = 60


if MODE in ("ctxcarry", "otel", "sentry"):
    from ctxcarry.adapters.arq import install, worker_settings

    if os.environ.get("CTXCARRY_ARQ_STRICT") == "1":
        install(Carrier(strict=True))
    worker_settings(WorkerSettings)


class HostileMapping(dict):  # type: ignore[type-arg]
    """A carrier that raises on every read (pickled into a job by the hostile tests)."""

    def _boom(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hostile carrier")

    get = keys = items = values = __getitem__ = __iter__ = __len__ = __contains__ = _boom

    def __reduce__(self) -> Any:
        return (HostileMapping, ())
