"""Where a task's propagation cost goes, inside Celery's own task tracer (no broker).

    python benchmarks/celery_profile.py

Runs one no-op task through ``celery.app.trace.build_tracer`` -- the code a
worker runs for every task, with the real ``task_prerun``/``task_postrun``
dispatch -- again and again, in interleaved rounds, with: no receivers; no-op
receivers (Celery's own signal dispatch cost); ctxcarry; django-structlog.
Then the same context's core operations alone: ``Carrier.inject``,
``Carrier.decode`` and an ``extract`` block (enter + exit). Prints CPU
microseconds per task (medians).
"""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

ROUNDS = 15
CALLS = 2000


def _cpu_us(fn: Callable[[], Any], calls: int = CALLS) -> float:
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    import django
    import structlog
    from celery import Celery, signals
    from celery.app.trace import build_tracer
    from django.conf import settings
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import Carrier, QueueVar
    from ctxcarry.adapters.celery import install, uninstall

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trace.set_tracer_provider(TracerProvider())
    settings.configure(DJANGO_STRUCTLOG_CELERY_ENABLED=True, INSTALLED_APPS=[])
    django.setup()
    from django_structlog.celery.receivers import CeleryReceiver

    tenant = QueueVar("profile.tenant", default=None)
    request_id = QueueVar("profile.request_id", default=None)
    app = Celery(f"ctxcarry-profile-{uuid.uuid4().hex[:8]}", broker="memory://")
    app.conf.task_ignore_result = True

    @app.task(name="profile.noop", shared=False, ignore_result=True)
    def noop() -> None:
        return None

    carrier = Carrier()
    structlog.contextvars.bind_contextvars(
        request_id="6f1c2a", user_id=42, path="/orders", method="POST", client="10.0.0.7"
    )
    with (
        trace.get_tracer("profile").start_as_current_span("request"),
        tenant("acme"),
        request_id("6f1c2a"),
    ):
        carried = carrier.inject()
        inject_us = statistics.median(_cpu_us(carrier.inject) for _ in range(ROUNDS))
    structlog.contextvars.clear_contextvars()
    django_structlog_context = {"__django_structlog__": dict(carried["structlog_context"])}

    task = app.tasks[noop.name]  # the task object itself, not the decorator's proxy
    tracer = build_tracer(task.name, task, eager=False, propagate=False, app=app, hostname="h")

    def run_task(headers: dict[str, Any]) -> Callable[[], Any]:
        def once() -> Any:
            request = {"id": "t", "task": noop.name, "delivery_info": {}, "hostname": "h"}
            return tracer("t", (), {}, {**request, **headers})

        return once

    def nothing(**_: Any) -> None:
        return None

    def connect_nothing() -> None:
        signals.task_prerun.connect(nothing, weak=False, dispatch_uid="profile")
        signals.task_postrun.connect(nothing, weak=False, dispatch_uid="profile")

    def disconnect_nothing() -> None:
        signals.task_prerun.disconnect(dispatch_uid="profile")
        signals.task_postrun.disconnect(dispatch_uid="profile")

    receiver = CeleryReceiver()  # its receivers are weak: keep the object alive

    def disconnect_django_structlog() -> None:
        signals.task_prerun.disconnect(receiver.receiver_task_prerun)
        signals.task_success.disconnect(receiver.receiver_task_success)

    def skip() -> None:
        return None

    setups: dict[str, tuple[Callable[[], None], Callable[[], None], dict[str, Any]]] = {
        "no receivers": (skip, skip, {"ctxcarry": carried}),
        "no-op receivers (Celery dispatch)": (
            connect_nothing,
            disconnect_nothing,
            {"ctxcarry": carried},
        ),
        "ctxcarry": (lambda: install(app), lambda: uninstall(app), {"ctxcarry": carried}),
        "django-structlog": (
            receiver.connect_worker_signals,
            disconnect_django_structlog,
            django_structlog_context,
        ),
    }
    timings: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(ROUNDS):
        for name, (connect, disconnect, headers) in setups.items():
            connect()
            timings[name].append(_cpu_us(run_task(headers)))
            disconnect()

    def extract_block() -> None:
        with carrier.extract(carried, restore_trace="if_no_active_span"):
            pass

    decode_us = statistics.median(_cpu_us(lambda: carrier.decode(carried)) for _ in range(ROUNDS))
    extract_us = statistics.median(_cpu_us(extract_block) for _ in range(ROUNDS))

    base = statistics.median(timings["no receivers"])
    print("One no-op task through Celery's tracer (CPU us per task, medians):\n")
    for name, values in timings.items():
        value = statistics.median(values)
        print(f"  {name:<36}{value:>8.1f}   (+{value - base:.1f})")
    print("\nThe core alone, same context (2 QueueVars, 5 structlog keys, a span):\n")
    print(f"  {'Carrier.inject':<36}{inject_us:>8.1f}")
    print(f"  {'Carrier.decode':<36}{decode_us:>8.1f}")
    print(f"  {'extract block (enter + exit)':<36}{extract_us:>8.1f}")


if __name__ == "__main__":
    main()
