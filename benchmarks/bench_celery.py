"""Celery throughput with and without context propagation, through a real Redis.

    python benchmarks/bench_celery.py              # 5,000 tasks x 4 modes x 3 rounds
    python benchmarks/bench_celery.py --tasks 20000 --rounds 5

Modes, each measured in a fresh process, interleaved round by round (the order
rotates) so that machine noise hits every mode alike:

- ``none``: no propagation at all (the baseline);
- ``ctxcarry``: ``ctxcarry.adapters.celery.install(app)``;
- ``django-structlog``: django-structlog's Celery receivers, wired as its docs
  say (``CeleryReceiver().connect_worker_signals()``, which is what its
  ``DjangoStructLogInitStep`` worker step does), with a minimal
  ``settings.configure``;
- ``otel``: opentelemetry-instrumentation-celery (SDK TracerProvider, no exporter).

In every mode the publisher runs inside the same context: an SDK span, two
QueueVars and five structlog keys. Each run publishes ``--tasks`` no-op tasks
(results ignored) and times the publishes, then starts one threads-pool worker
(``--concurrency`` threads) in the same process and times how long it takes
from the first task starting to the last one finishing. structlog is set to
drop records below WARNING in every mode, so django-structlog's per-task INFO
lines cost their filtering only, not formatting and output.

Reported: medians over rounds of worker throughput, publish cost (microseconds
per ``delay()``, Redis round trip included) and end-to-end throughput, and of
each mode's ratio to ``none`` measured in the same round.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

MODES = ("none", "ctxcarry", "django-structlog", "otel")
DEFAULT_REDIS = os.environ.get("CTXCARRY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
WARMUP = 200


def _set_up_mode(mode: str, app: Any) -> Any:
    """Wire the propagation under test; return what must stay referenced."""
    if mode == "ctxcarry":
        from ctxcarry.adapters.celery import install

        install(app)
        return None
    if mode == "django-structlog":
        import django
        from django.conf import settings

        settings.configure(DJANGO_STRUCTLOG_CELERY_ENABLED=True, INSTALLED_APPS=[])
        django.setup()
        from django_structlog.celery.receivers import CeleryReceiver

        receiver = CeleryReceiver()  # its receivers are weak: keep the object alive
        receiver.connect_worker_signals()
        return receiver
    if mode == "otel":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
        return None
    return None


def run_one(mode: str, tasks: int, concurrency: int, redis_url: str) -> dict[str, Any]:
    """Publish then drain ``tasks`` no-op tasks in this process; return the timings."""
    import logging

    import structlog
    from celery import Celery
    from celery.contrib.testing.worker import start_worker
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trace.set_tracer_provider(TracerProvider())
    tenant = QueueVar("bench.tenant", default=None)
    request_id = QueueVar("bench.request_id", default=None)

    queue = f"ctxcarry-bench-{mode}-{uuid.uuid4().hex[:8]}"
    app = Celery("ctxcarry-bench", broker=redis_url, set_as_current=True)
    app.conf.update(
        task_default_queue=queue,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_prefetch_multiplier=4,
    )
    total = tasks + WARMUP
    counter = itertools.count(1)
    finished = threading.Event()
    marks: dict[str, float] = {}

    @app.task(name="bench.noop", shared=False, ignore_result=True)
    def noop() -> None:
        done = next(counter)
        if done == 1:
            marks["first"], marks["first_cpu"] = time.perf_counter(), time.process_time()
        if done == total:
            marks["last"], marks["last_cpu"] = time.perf_counter(), time.process_time()
            finished.set()

    keep_alive = _set_up_mode(mode, app)
    tracer = trace.get_tracer("bench")
    structlog.contextvars.bind_contextvars(
        request_id="6f1c2a", user_id=42, path="/orders", method="POST", client="10.0.0.7"
    )
    with tracer.start_as_current_span("request"), tenant("acme"), request_id("6f1c2a"):
        for _ in range(WARMUP):
            noop.delay()
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(tasks):
            noop.delay()
        publish_seconds = time.perf_counter() - started
        publish_cpu_seconds = time.process_time() - started_cpu
    structlog.contextvars.clear_contextvars()

    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
    ):
        if not finished.wait(timeout=600):
            raise RuntimeError(f"{mode}: only {next(counter) - 1} of {total} tasks ran")
    drain_seconds = marks["last"] - marks["first"]
    drain_cpu_seconds = marks["last_cpu"] - marks["first_cpu"]
    del keep_alive
    return {
        "mode": mode,
        "worker_tasks_per_s": total / drain_seconds,
        "worker_cpu_us": drain_cpu_seconds / total * 1e6,
        "publish_us": publish_seconds / tasks * 1e6,
        "publish_cpu_us": publish_cpu_seconds / tasks * 1e6,
        "end_to_end_tasks_per_s": tasks / (publish_seconds + drain_seconds * tasks / total),
    }


def _run_in_child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        mode,
        "--tasks",
        str(args.tasks),
        "--concurrency",
        str(args.concurrency),
        "--redis-url",
        args.redis_url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def _flush(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


def _report(rounds: list[dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    modes = list(rounds[0])
    print(
        f"\n{args.tasks} no-op tasks per run, one threads worker "
        f"(concurrency {args.concurrency}), Redis, {len(rounds)} rounds; medians, and the "
        f"median of each round's ratio to 'none':\n"
    )
    columns = [
        ("worker_tasks_per_s", "worker tasks/s", ",.0f"),
        ("worker_cpu_us", "worker CPU us/task", ".0f"),
        ("publish_us", "publish us", ".0f"),
        ("publish_cpu_us", "publish CPU us", ".0f"),
        ("end_to_end_tasks_per_s", "end-to-end tasks/s", ",.0f"),
    ]
    header = f"{'mode':<18}" + "".join(f"{title:>20}{'ratio':>7}" for _, title, _ in columns)
    print(header)
    print("-" * len(header))
    for mode in ["none", *[m for m in MODES if m in modes and m != "none"]]:
        cells = []
        for key, _, spec in columns:
            value = statistics.median(r[mode][key] for r in rounds)
            ratio = statistics.median(r[mode][key] / r["none"][key] for r in rounds)
            cells.append(f"{value:>20{spec}}{ratio:>7.3f}")
        print(f"{mode:<18}" + "".join(cells))


def _report_micro(redis_url: str) -> None:
    output = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", "micro", "--redis-url", redis_url],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    micro = json.loads(output.stdout.strip().splitlines()[-1])
    print(
        "\nPer message, one process, interleaved rounds (CPU us; medians): publishing through"
        "\nRedis with ctxcarry installed and not, then the receivers alone (no broker):\n"
    )
    for name, value in micro.items():
        print(f"  {name:<48}{value:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks per run (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all modes (default 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads (default 4)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="a Redis DB it may flush")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--child", choices=(*MODES, "micro"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "micro":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from celery_micro import measure, publish_cost

        print(json.dumps({**publish_cost(args.redis_url), **measure()}))
        return
    if args.child:
        print(json.dumps(run_one(args.child, args.tasks, args.concurrency, args.redis_url)))
        return
    modes = [m for m in MODES if m in args.modes.split(",")]
    if "none" not in modes:
        modes.insert(0, "none")
    rounds = []
    for number in range(args.rounds):
        order = modes[number % len(modes) :] + modes[: number % len(modes)]
        results = {}
        for mode in order:
            _flush(args.redis_url)
            results[mode] = _run_in_child(mode, args)
            run = results[mode]
            print(
                f"round {number + 1} {mode:<17} {run['worker_tasks_per_s']:>7,.0f} tasks/s "
                f"({run['worker_cpu_us']:5.0f} CPU us/task)  publish {run['publish_us']:5.0f} us "
                f"({run['publish_cpu_us']:4.0f} CPU us)",
                flush=True,
            )
        rounds.append(results)
    _flush(args.redis_url)
    _report(rounds, args)
    _report_micro(args.redis_url)


if __name__ == "__main__":
    main()
