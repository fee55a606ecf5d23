"""Per-message cost of the Celery receivers alone, no broker: used by bench_celery.py.

Times ctxcarry's publish receiver (``before_task_publish``) and its run
receivers (``task_prerun`` + ``task_postrun``) on a real task and request, and
django-structlog's equivalents, in the same context as the throughput runs.
Run in its own process: it connects signal receivers.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any


def _per_call(fn: Callable[[], Any], calls: int) -> float:
    """CPU microseconds per call of ``fn`` over ``calls`` calls.

    CPU time, not wall time: on a shared machine it is what other processes disturb least.
    """
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) / calls * 1e6


def _interleaved(
    candidates: dict[str, Callable[[], Any]], calls: int, rounds: int
) -> dict[str, list[float]]:
    """Time every candidate once per round, round after round, so noise hits all alike."""
    timings: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            timings[name].append(_per_call(fn, calls))
    return timings


def measure(calls: int = 2000, rounds: int = 15) -> dict[str, float]:
    """CPU microseconds per message for each receiver set, and ctxcarry's ratios.

    Medians over ``rounds`` interleaved rounds of ``calls`` calls; each ratio is
    the median of the per-round ratios ctxcarry / django-structlog.
    """
    import django
    import structlog
    from celery import Celery
    from django.conf import settings
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar
    from ctxcarry.adapters.celery import install
    from ctxcarry.adapters.celery import installation as ctxcarry_installation
    from ctxcarry.adapters.celery.publish import on_before_task_publish
    from ctxcarry.adapters.celery.run import on_task_postrun, on_task_prerun

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trace.set_tracer_provider(TracerProvider())
    settings.configure(DJANGO_STRUCTLOG_CELERY_ENABLED=True, INSTALLED_APPS=[])
    django.setup()
    from django_structlog.celery.receivers import CeleryReceiver

    tenant = QueueVar("bench.tenant", default=None)
    request_id = QueueVar("bench.request_id", default=None)
    app = Celery(f"ctxcarry-micro-{uuid.uuid4().hex[:8]}", broker="memory://")

    @app.task(name="bench.noop", shared=False)
    def noop_task() -> None:
        return None

    noop = app.tasks[noop_task.name]  # the task object itself, not the decorator's proxy
    install(app)
    installed = ctxcarry_installation.installation_for(app)
    django_structlog = CeleryReceiver()

    structlog.contextvars.bind_contextvars(
        request_id="6f1c2a", user_id=42, path="/orders", method="POST", client="10.0.0.7"
    )
    ours_headers: dict[str, Any] = {}
    theirs_headers: dict[str, Any] = {}
    with (
        trace.get_tracer("bench").start_as_current_span("request"),
        tenant("acme"),
        request_id("6f1c2a"),
    ):
        token = ctxcarry_installation._publishing.set(installed)
        publish = _interleaved(
            {
                "ctxcarry publish receiver": lambda: on_before_task_publish(
                    headers={}, properties={}
                ),
                "django-structlog publish receiver": lambda: (
                    django_structlog.receiver_before_task_publish(headers={}, properties={})
                ),
            },
            calls,
            rounds,
        )
        on_before_task_publish(headers=ours_headers, properties={})
        ctxcarry_installation._publishing.reset(token)
        django_structlog.receiver_before_task_publish(headers=theirs_headers, properties={})
    structlog.contextvars.clear_contextvars()

    def ours_run() -> None:
        noop.push_request(id="id", **ours_headers)
        on_task_prerun(task=noop, task_id="id")
        on_task_postrun(task=noop, task_id="id")
        noop.pop_request()

    def theirs_run() -> None:
        noop.push_request(id="id", **theirs_headers)
        django_structlog.receiver_task_prerun(task_id="id", task=noop)
        django_structlog.receiver_task_success(result=None, sender=noop)
        noop.pop_request()

    def bare_run() -> None:
        noop.push_request(id="id", **ours_headers)
        noop.pop_request()

    run = _interleaved(
        {
            "ctxcarry prerun+postrun": ours_run,
            "django-structlog prerun+success": theirs_run,
            "(push/pop request, subtracted)": bare_run,
        },
        calls,
        rounds,
    )
    bare = run.pop("(push/pop request, subtracted)")
    for name in run:
        run[name] = [value - base for value, base in zip(run[name], bare, strict=True)]
    structlog.contextvars.clear_contextvars()

    results = {name: statistics.median(values) for name, values in {**publish, **run}.items()}
    for side, ours, theirs in (
        ("publish", "ctxcarry publish receiver", "django-structlog publish receiver"),
        ("run", "ctxcarry prerun+postrun", "django-structlog prerun+success"),
    ):
        timings = {**publish, **run}
        results[f"ratio ctxcarry / django-structlog, {side}"] = statistics.median(
            a / b for a, b in zip(timings[ours], timings[theirs], strict=True)
        )
    results["ctxcarry header, bytes of JSON"] = float(
        len(json.dumps(ours_headers["ctxcarry"], separators=(",", ":")))
    )
    return results


def publish_cost(redis_url: str, per_round: int = 300, rounds: int = 31) -> dict[str, float]:
    """CPU microseconds per ``delay()`` through Redis, with and without ctxcarry.

    One app in one process; ``install``/``uninstall`` alternate round by round,
    so both sides see the same connection, the same machine noise and the same
    context (a span, two QueueVars, five structlog keys).
    """
    import redis
    import structlog
    from celery import Celery
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar
    from ctxcarry.adapters.celery import install, uninstall

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trace.set_tracer_provider(TracerProvider())
    tenant = QueueVar("bench.pub.tenant", default=None)
    request_id = QueueVar("bench.pub.request_id", default=None)
    queue = f"ctxcarry-bench-publish-{uuid.uuid4().hex[:8]}"
    app = Celery("ctxcarry-bench-publish", broker=redis_url, set_as_current=False)
    app.conf.update(task_default_queue=queue, task_ignore_result=True)

    @app.task(name="bench.noop", shared=False, ignore_result=True)
    def noop() -> None:
        return None

    def publish_round() -> None:
        for _ in range(per_round):
            noop.delay()

    def with_ctxcarry() -> None:
        install(app)
        publish_round()
        uninstall(app)

    structlog.contextvars.bind_contextvars(
        request_id="6f1c2a", user_id=42, path="/orders", method="POST", client="10.0.0.7"
    )
    with (
        trace.get_tracer("bench").start_as_current_span("request"),
        tenant("acme"),
        request_id("6f1c2a"),
    ):
        publish_round()  # warm the connection
        timings = _interleaved(
            {"publish without ctxcarry": publish_round, "publish with ctxcarry": with_ctxcarry},
            1,
            rounds,
        )
    structlog.contextvars.clear_contextvars()
    if redis_url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(redis_url)
        client.delete(queue)
        client.close()
    app.close()
    without = [t / per_round for t in timings["publish without ctxcarry"]]
    with_ = [t / per_round for t in timings["publish with ctxcarry"]]
    return {
        "publish without ctxcarry (Redis)": statistics.median(without),
        "publish with ctxcarry (Redis)": statistics.median(with_),
        "ctxcarry added per publish": statistics.median(
            b - a for a, b in zip(without, with_, strict=True)
        ),
    }
