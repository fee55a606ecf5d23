"""Celery: what carrying context costs a worker and a publisher, through a real Redis.

    python benchmarks/bench_celery.py                 # all three parts below, ~2 min
    python benchmarks/bench_celery.py throughput [--rounds 7] [--tasks 5000] [--modes ...]
    python benchmarks/bench_celery.py micro           # per message, one process
    python benchmarks/bench_celery.py profile         # inside Celery's task tracer, no broker

Every part runs in a fresh process (each connects signal receivers and
configures Django settings for django-structlog). In every part the publisher
has the same context: an SDK span, two QueueVars and five structlog keys; and
structlog drops records below WARNING, so django-structlog's per-task INFO
lines cost their filtering only, not formatting and output.

``throughput``: modes ``none`` (the baseline), ``ctxcarry``
(``ctxcarry.adapters.celery.install(app)``), ``django-structlog`` (its
``CeleryReceiver().connect_worker_signals()``, which is what its worker step
does) and ``otel`` (opentelemetry-instrumentation-celery, SDK tracer provider,
no exporter), each in a fresh process, the order rotating round by round. A
run publishes ``--tasks`` no-op tasks (results ignored), timing the publishes,
then starts one threads-pool worker in the same process and times the first
task starting to the last one finishing. Reported: medians over rounds, and
the median of each round's ratio to ``none``.

``micro``: CPU microseconds per message in one process, interleaved rounds:
``delay()`` through Redis with ctxcarry installed and not; Celery's publish
signals (``before_task_publish`` + ``after_task_publish``) and its run signals
(``task_prerun`` + ``task_success`` + ``task_postrun``), dispatched the way
Celery dispatches them, with ctxcarry's or django-structlog's receivers
connected, minus the same dispatch with no receivers.

``profile``: one no-op task through ``celery.app.trace.build_tracer`` (the code
a worker runs per task, with the real signal dispatch) with no receivers,
no-op receivers, ctxcarry and django-structlog; then the core operations
alone in the same context.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import _timing

MODES = ("none", "ctxcarry", "django-structlog", "otel")
PARTS = ("throughput", "micro", "profile")
DEFAULT_REDIS = os.environ.get("CTXCARRY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
#: This run's queue names start with it (the child processes inherit it): a run deletes only
#: its own keys, never the database, which another run or a test run may be using.
RUN_PREFIX = os.environ.setdefault("CTXCARRY_BENCH_RUN", f"ctxcarry-bench-{uuid.uuid4().hex[:8]}")
WARMUP = 200
LOG_KEYS = {
    "request_id": "6f1c2a",
    "user_id": 42,
    "path": "/orders",
    "method": "POST",
    "client": "10.0.0.7",
}


# ---------------------------------------------------------------- shared set-up


def _quiet_structlog_and_sdk() -> None:
    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    trace.set_tracer_provider(TracerProvider())


def _django_structlog_receiver() -> Any:
    """django-structlog's receiver object, with the minimal Django settings it needs."""
    import django
    from django.conf import settings

    settings.configure(DJANGO_STRUCTLOG_CELERY_ENABLED=True, INSTALLED_APPS=[])
    django.setup()
    from django_structlog.celery.receivers import CeleryReceiver

    return CeleryReceiver()  # its receivers are weak: keep the object alive


@contextmanager
def publisher_context(prefix: str) -> Iterator[None]:
    """The publisher's context in every part: a span, two QueueVars, five structlog keys."""
    import structlog
    from opentelemetry import trace

    from ctxcarry import QueueVar

    tenant = QueueVar(f"{prefix}.tenant", default=None)
    request_id = QueueVar(f"{prefix}.request_id", default=None)
    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    try:
        with (
            trace.get_tracer("bench").start_as_current_span("request"),
            tenant("acme"),
            request_id("6f1c2a"),
        ):
            yield
    finally:
        structlog.contextvars.clear_contextvars()


# ---------------------------------------------------------------- throughput


def _set_up_mode(mode: str, app: Any) -> Any:
    """Wire the propagation under test; return what must stay referenced."""
    if mode == "ctxcarry":
        from ctxcarry.adapters.celery import install

        install(app)
    elif mode == "django-structlog":
        receiver = _django_structlog_receiver()
        receiver.connect_worker_signals()
        return receiver
    elif mode == "otel":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
    return None


def run_mode(mode: str, tasks: int, concurrency: int, redis_url: str) -> dict[str, Any]:
    """Publish then drain ``tasks`` no-op tasks in this process; return the timings."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    _quiet_structlog_and_sdk()
    queue = f"{RUN_PREFIX}-{mode}-{uuid.uuid4().hex[:8]}"
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
    with publisher_context("bench"):
        for _ in range(WARMUP):
            noop.delay()
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(tasks):
            noop.delay()
        publish_seconds = time.perf_counter() - started
        publish_cpu_seconds = time.process_time() - started_cpu
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
    del keep_alive
    return {
        "worker_tasks_per_s": total / drain_seconds,
        "worker_cpu_us": (marks["last_cpu"] - marks["first_cpu"]) / total * 1e6,
        "publish_us": publish_seconds / tasks * 1e6,
        "publish_cpu_us": publish_cpu_seconds / tasks * 1e6,
        "end_to_end_tasks_per_s": tasks / (publish_seconds + drain_seconds * tasks / total),
    }


def _flush(redis_url: str) -> None:
    """Delete what this run left in Redis: every key naming one of its queues."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{RUN_PREFIX}*", count=1000):
        client.delete(key)
    client.close()


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Every mode in a fresh process per round, the order rotating; medians and ratios."""
    modes = [m for m in MODES if m in args.modes.split(",")]
    if "none" not in modes:
        modes.insert(0, "none")
    rounds: list[dict[str, dict[str, float]]] = []
    for number in range(args.rounds):
        results: dict[str, dict[str, float]] = {}
        for mode in _timing.rotated(modes, number):
            _flush(args.redis_url)
            command = ["throughput", "--child", mode, "--tasks", str(args.tasks)]
            command += ["--concurrency", str(args.concurrency), "--redis-url", args.redis_url]
            results[mode] = _run_self(command)
            run = results[mode]
            print(
                f"round {number + 1} {mode:<17} {run['worker_tasks_per_s']:>7,.0f} tasks/s "
                f"({run['worker_cpu_us']:5.0f} CPU us/task)  publish {run['publish_us']:5.0f} us "
                f"({run['publish_cpu_us']:4.0f} CPU us)",
                file=sys.stderr,
                flush=True,
            )
        rounds.append(results)
    _flush(args.redis_url)
    keys = [key for key, _, _ in THROUGHPUT_COLUMNS]
    summary = {
        mode: {
            **{key: _timing.median(r[mode][key] for r in rounds) for key in keys},
            **{
                f"{key}_ratio": _timing.median_ratio(
                    [r[mode][key] for r in rounds], [r["none"][key] for r in rounds]
                )
                for key in keys
            },
        }
        for mode in modes
    }
    return {
        "tasks": args.tasks,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "modes": summary,
        "per_round": rounds,
    }


THROUGHPUT_COLUMNS: list[_timing.Column] = [
    ("worker_tasks_per_s", "worker tasks/s", ",.0f"),
    ("worker_cpu_us", "worker CPU us/task", ".0f"),
    ("publish_us", "publish us", ".0f"),
    ("publish_cpu_us", "publish CPU us", ".0f"),
    ("end_to_end_tasks_per_s", "end-to-end tasks/s", ",.0f"),
]


def render_throughput(result: Mapping[str, Any]) -> str:
    columns: list[_timing.Column] = [("mode", "mode", "s")]
    for key, title, spec in THROUGHPUT_COLUMNS:
        columns += [(key, title, spec), (f"{key}_ratio", "ratio", ".3f")]
    rows = [{"mode": mode, **row} for mode, row in result["modes"].items()]
    return (
        f"{result['tasks']} no-op tasks per run, one threads worker (concurrency "
        f"{result['concurrency']}), Redis, {result['rounds']} rounds; medians, and the median "
        "of each round's ratio to 'none':\n" + _timing.table(rows, columns)
    )


# ---------------------------------------------------------------- micro


def publish_through_redis(redis_url: str, per_round: int, rounds: int) -> dict[str, float]:
    """CPU us per ``delay()`` through Redis, ctxcarry installed and uninstalled alternately.

    One app in one process, so both sides see the same connection, the same
    machine noise and the same context.
    """
    import redis
    from celery import Celery

    from ctxcarry.adapters.celery import install, uninstall

    queue = f"{RUN_PREFIX}-publish-{uuid.uuid4().hex[:8]}"
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

    with publisher_context("bench.pub"):
        samples = _timing.interleaved(
            {"without": publish_round, "with": with_ctxcarry},
            rounds=rounds,
            loops=1,
            clock=time.process_time,
            warmup=1,
        )
    client = redis.Redis.from_url(redis_url)
    client.delete(queue)
    client.close()
    app.close()
    without = [value / per_round for value in samples["without"]]
    with_ = [value / per_round for value in samples["with"]]
    return {
        "delay() through Redis, without ctxcarry": _timing.median(without),
        "delay() through Redis, with ctxcarry": _timing.median(with_),
        "delay() through Redis, added by ctxcarry": _timing.median(
            b - a for a, b in zip(without, with_, strict=True)
        ),
    }


def receivers(calls: int, rounds: int) -> dict[str, float]:
    """Per message, CPU us the receivers add to Celery's own signal dispatch.

    Publish side: the app's ``send_task`` is replaced by a stand-in that
    dispatches ``before_task_publish`` and ``after_task_publish`` exactly as
    Celery's ``send_task_message`` does, and ``install(app)`` wraps that stand-in
    as it wraps the real one; no broker is involved. Run side: ``task_prerun``,
    ``task_success`` and ``task_postrun`` for a real task with the message's
    headers as its request, as Celery's tracer sends them.
    """
    from celery import Celery, signals

    from ctxcarry.adapters.celery import HEADER, install, uninstall

    theirs = _django_structlog_receiver()
    app = Celery(f"ctxcarry-micro-{uuid.uuid4().hex[:8]}", broker="memory://")

    @app.task(name="bench.noop", shared=False)
    def noop_task() -> None:
        return None

    task = app.tasks[noop_task.name]  # the task object itself, not the decorator's proxy

    def dispatch_publish(name: str, **_: Any) -> dict[str, Any]:
        headers: dict[str, Any] = {"id": "id", "task": name}
        properties: dict[str, Any] = {}
        signals.before_task_publish.send(
            sender=name,
            body=((), {}, {}),
            exchange="",
            routing_key="celery",
            declare=[],
            headers=headers,
            properties=properties,
            retry_policy={},
        )
        signals.after_task_publish.send(
            sender=name, body=((), {}, {}), exchange="", routing_key="celery", headers=headers
        )
        return headers

    def stand_in() -> None:
        app.send_task = dispatch_publish  # type: ignore[method-assign]

    def publish() -> dict[str, Any]:
        return app.send_task("bench.noop")  # type: ignore[no-any-return]

    def connect_ours() -> None:
        stand_in()
        install(app)

    def disconnect_ours() -> None:
        uninstall(app)  # also removes the stand-in; the next connect puts it back

    def connect_theirs() -> None:
        signals.before_task_publish.connect(theirs.receiver_before_task_publish)
        signals.after_task_publish.connect(theirs.receiver_after_task_publish)

    def disconnect_theirs() -> None:
        signals.before_task_publish.disconnect(theirs.receiver_before_task_publish)
        signals.after_task_publish.disconnect(theirs.receiver_after_task_publish)

    def connect_theirs_worker() -> None:
        theirs.connect_worker_signals()

    def disconnect_theirs_worker() -> None:
        disconnect_theirs()
        signals.task_prerun.disconnect(theirs.receiver_task_prerun)
        signals.task_success.disconnect(theirs.receiver_task_success)

    def nothing() -> None:
        return None

    stand_in()
    arms = {
        "none": (nothing, nothing),
        "ctxcarry": (connect_ours, disconnect_ours),
        "django-structlog": (connect_theirs, disconnect_theirs),
    }
    headers: dict[str, dict[str, Any]] = {}
    publish_samples: dict[str, list[float]] = {arm: [] for arm in arms}
    with publisher_context("bench.micro"):
        for number in range(rounds + 1):  # the first round warms up and is not kept
            for arm in _timing.rotated(list(arms), number):
                connect, disconnect = arms[arm]
                connect()
                headers[arm] = publish()
                spent = _timing.cpu_us(publish, calls)
                disconnect()
                stand_in()
                if number:
                    publish_samples[arm].append(spent)
    assert HEADER in headers["ctxcarry"], "ctxcarry's receiver did not run"
    assert "__django_structlog__" in headers["django-structlog"]

    def run_signals(message_headers: dict[str, Any]) -> Callable[[], None]:
        def once() -> None:
            task.push_request(**{**message_headers, "id": "id"})
            signals.task_prerun.send(sender=task, task_id="id", task=task, args=(), kwargs={})
            signals.task_success.send(sender=task, result=None)
            signals.task_postrun.send(
                sender=task, task_id="id", task=task, args=(), kwargs={}, retval=None
            )
            task.pop_request()

        return once

    run_arms = {
        "none": (nothing, nothing, run_signals(headers["ctxcarry"])),
        "ctxcarry": (
            lambda: install(app),
            lambda: uninstall(app),
            run_signals(headers["ctxcarry"]),
        ),
        "django-structlog": (
            connect_theirs_worker,
            disconnect_theirs_worker,
            run_signals(headers["django-structlog"]),
        ),
    }
    run_samples: dict[str, list[float]] = {arm: [] for arm in run_arms}
    for number in range(rounds + 1):
        for arm in _timing.rotated(list(run_arms), number):
            connect, disconnect, once = run_arms[arm]
            connect()
            spent = _timing.cpu_us(once, calls)
            disconnect()
            if number:
                run_samples[arm].append(spent)

    result: dict[str, float] = {}
    for side, samples in (("publish", publish_samples), ("run", run_samples)):
        base = samples["none"]
        result[f"{side}: signal dispatch, no receivers"] = _timing.median(base)
        added = {
            arm: [value - b for value, b in zip(samples[arm], base, strict=True)]
            for arm in ("ctxcarry", "django-structlog")
        }
        for arm, values in added.items():
            result[f"{side}: added by {arm}'s receivers"] = _timing.median(values)
        result[f"{side}: ratio ctxcarry / django-structlog"] = _timing.median_ratio(
            added["ctxcarry"], added["django-structlog"]
        )
    result["ctxcarry header, bytes of JSON"] = float(
        len(json.dumps(headers["ctxcarry"][HEADER], separators=(",", ":")))
    )
    return result


def micro(args: argparse.Namespace) -> dict[str, Any]:
    _quiet_structlog_and_sdk()
    # Publishing through Redis is noisier than the receivers alone: twice the rounds.
    figures = publish_through_redis(args.redis_url, per_round=300, rounds=2 * args.rounds + 1)
    figures.update(receivers(calls=2000, rounds=args.rounds))
    return {"figures": figures}


def render_micro(result: Mapping[str, Any]) -> str:
    rows = [{"what": name, "us": value} for name, value in result["figures"].items()]
    return (
        "Per message, one process, interleaved rounds (CPU us per message; medians; "
        "'added' = the same dispatch with no receivers subtracted, round by round):\n"
        + _timing.table(rows, [("what", "what", "s"), ("us", "us", ".2f")], indent="  ")
    )


# ---------------------------------------------------------------- profile


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """One no-op task through Celery's own tracer, per receiver set; then the core alone."""
    from celery import Celery, signals
    from celery.app.trace import build_tracer

    from ctxcarry import Carrier
    from ctxcarry.adapters.celery import install, uninstall

    _quiet_structlog_and_sdk()
    theirs = _django_structlog_receiver()
    app = Celery(f"ctxcarry-profile-{uuid.uuid4().hex[:8]}", broker="memory://")
    app.conf.task_ignore_result = True

    @app.task(name="profile.noop", shared=False, ignore_result=True)
    def noop() -> None:
        return None

    carrier = Carrier()
    with publisher_context("profile"):
        carried = carrier.inject()
        inject_us = _timing.interleaved(
            {"inject": carrier.inject}, rounds=args.rounds, loops=2000, clock=time.process_time
        )["inject"]
    django_structlog_headers = {"__django_structlog__": dict(carried["structlog_context"])}

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

    def disconnect_theirs() -> None:
        signals.task_prerun.disconnect(theirs.receiver_task_prerun)
        signals.task_success.disconnect(theirs.receiver_task_success)

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
            theirs.connect_worker_signals,
            disconnect_theirs,
            django_structlog_headers,
        ),
    }
    timings: dict[str, list[float]] = {name: [] for name in setups}
    for number in range(args.rounds):
        for name in _timing.rotated(list(setups), number):
            connect, disconnect, headers = setups[name]
            connect()
            timings[name].append(_timing.cpu_us(run_task(headers), 2000))
            disconnect()

    def extract_block() -> None:
        with carrier.extract(carried, restore_trace="if_no_active_span"):
            pass

    core = _timing.interleaved(
        {"Carrier.decode": lambda: carrier.decode(carried), "extract block": extract_block},
        rounds=args.rounds,
        loops=2000,
        clock=time.process_time,
    )
    base = _timing.median(timings["no receivers"])
    return {
        "rounds": args.rounds,
        "tracer": {
            name: {"us": _timing.median(values), "added_us": _timing.median(values) - base}
            for name, values in timings.items()
        },
        "core": {
            "Carrier.inject": _timing.median(inject_us),
            **{name: _timing.median(values) for name, values in core.items()},
        },
    }


def render_profile(result: Mapping[str, Any]) -> str:
    tracer_rows = [{"what": name, **row} for name, row in result["tracer"].items()]
    core_rows = [{"what": name, "us": value} for name, value in result["core"].items()]
    return "\n".join(
        [
            "One no-op task through Celery's tracer (CPU us per task, medians of "
            f"{result['rounds']} interleaved rounds):",
            _timing.table(
                tracer_rows,
                [("what", "receivers", "s"), ("us", "us", ".1f"), ("added_us", "added", "+.1f")],
                indent="  ",
            ),
            "The core alone, same context (2 QueueVars, 5 structlog keys, a span):",
            _timing.table(
                core_rows, [("what", "operation", "s"), ("us", "us", ".1f")], indent="  "
            ),
        ]
    )


# ---------------------------------------------------------------- main

RENDER = {"throughput": render_throughput, "micro": render_micro, "profile": render_profile}
MEASURE = {"throughput": throughput, "micro": micro, "profile": profile}


def _run_self(arguments: list[str]) -> dict[str, Any]:
    """Run this script with ``arguments`` in a fresh process; return its JSON result."""
    command = [sys.executable, os.path.abspath(__file__), *arguments, "--json"]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, timeout=3600)
    text = output.stdout
    start = text.rfind("\n{") + 1  # the result is the last top-level JSON object printed
    return dict(json.loads(text[start:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("part", nargs="?", choices=(*PARTS, "all"), default="all")
    parser.add_argument("--rounds", type=int, help="throughput: 3 rounds; micro/profile: 15")
    parser.add_argument("--tasks", type=int, default=5000, help="throughput: tasks per run")
    parser.add_argument("--concurrency", type=int, default=4, help="throughput: worker threads")
    parser.add_argument("--modes", default=",".join(MODES), help="throughput: modes to run")
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="a Redis DB (only this run's keys are deleted)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result: dict[str, Any] = run_mode(args.child, args.tasks, args.concurrency, args.redis_url)
        print(json.dumps(result))
        return 0
    parts = list(PARTS) if args.part == "all" else [args.part]
    given_rounds = args.rounds
    env = _timing.environment()
    results: dict[str, Any] = {}
    for part in parts:
        args.rounds = given_rounds or (3 if part == "throughput" else 15)
        if len(parts) == 1:
            results[part] = MEASURE[part](args)
            continue
        # Each part in its own process: they connect receivers and configure Django.
        forwarded = [part, "--rounds", str(args.rounds), "--redis-url", args.redis_url]
        forwarded += ["--tasks", str(args.tasks), "--concurrency", str(args.concurrency)]
        results[part] = _run_self([*forwarded, "--modes", args.modes])[part]
    results["environment"] = _timing.finish_environment(env)
    _timing.emit(
        results,
        args.json,
        lambda r: "\n\n".join(RENDER[part](r[part]) for part in parts),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
