"""Worker CPU per task of the Django tasks adapter, with and without propagation.

Runs django-tasks-db's real ``db_worker --batch`` on PostgreSQL over N tasks
per mode and round, measuring the worker process's CPU time (user + system,
from ``getrusage(RUSAGE_CHILDREN)``) minus the same worker's CPU on an empty
queue (start-up and shutdown), divided by N; likewise the producer's CPU per
``enqueue()``. Rounds are interleaved with a rotating mode order, and ratios
are the median of each round's ratio to ``none``, so the machine's load
drifting during the run cancels out.

Modes (each a fresh producer and worker process):

- ``none``: no propagation at all (the adapter is not in INSTALLED_APPS);
- ``ctxcarry``: ``"ctxcarry.adapters.django_tasks"`` in INSTALLED_APPS;
- ``django-structlog``: django-structlog's experimental Django tasks receivers
  (``DJANGO_STRUCTLOG_DJANGO_TASKS_ENABLED``, context kept in a Redis cache
  keyed by the result id). Django 6 only (they import ``django.tasks``).

The producer has a span, one QueueVar and five structlog keys bound. Log
lines below WARNING are filtered out in every mode (stdlib and structlog).
The task does nothing.

``--micro`` measures, in one process, only the receivers: the framework's
signals sent the way db_worker sends them for a real ``DBTaskResult`` row
(not saved), with each mode's receivers connected, and the enqueue side
(``pre_save`` for a new row, and ``task_enqueued``).

Needs PostgreSQL (a database ``bench_ctxcarry_djtasks_<pid>`` is created and
dropped) and, for django-structlog, Redis DB 9. From the repository root::

    python benchmarks/bench_django_tasks.py            # 500 tasks x 3 rounds
    python benchmarks/bench_django_tasks.py --tasks 1000 --rounds 5 --json
    python benchmarks/bench_django_tasks.py --micro    # receivers only, in-process
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: This run's own database (created, then dropped): concurrent runs never share one.
DATABASE = f"bench_ctxcarry_djtasks_{os.getpid()}"
REDIS_URL = os.environ.get("CTXCARRY_REDIS_URL", "redis://127.0.0.1:6379/9")

PRODUCER = """
import sys

import django

django.setup()
import structlog
from django.db import transaction
from opentelemetry import trace

from tests.django_tasks.tasks import noop
from tests.django_tasks.vars import djt_tenant

count, queue = int(sys.argv[1]), sys.argv[2]
task = noop.using(queue_name=queue)
structlog.contextvars.bind_contextvars(request_id="6f1c2a", user_id=42, a=1, b="two", c=3.5)
with trace.get_tracer("bench").start_as_current_span("web"), djt_tenant("acme"):
    with transaction.atomic():
        for _ in range(count):
            task.enqueue()
"""


def django_6() -> bool:
    import django

    return django.VERSION >= (6, 0)


def mode_env(mode: str, queue: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.django_tasks.settings",
        CTXCARRY_DJTASKS_DB_NAME=DATABASE,
        CTXCARRY_DJTASKS_QUEUE=queue,
        CTXCARRY_DJTASKS_ADAPTER="1" if mode == "ctxcarry" else "0",
        CTXCARRY_DJTASKS_PEER=mode if mode == "django-structlog" else "",
        CTXCARRY_DJTASKS_LOG_LEVEL="WARNING",
        CTXCARRY_REDIS_URL=REDIS_URL,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    return env


def child_cpu(command: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + system) the command's process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{completed.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def produce(count: int, env: dict[str, str], queue: str) -> float:
    return child_cpu([sys.executable, "-c", PRODUCER, str(count), queue], env)


def work(env: dict[str, str], queue: str) -> float:
    command = [sys.executable, "-m", "django", "db_worker", "--batch", "--no-startup-delay"]
    command += ["--interval", "0", "--queue-name", queue, "--no-reload"]
    return child_cpu(command, env)


def admin(sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", ""),
        dbname="postgres",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def setup_database() -> None:
    admin(f"DROP DATABASE IF EXISTS {DATABASE}")
    admin(f"CREATE DATABASE {DATABASE}")
    env = mode_env("none", "default")
    command = [sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v", "0"]
    subprocess.run(command, env=env, cwd=REPO, check=True)


def measure(mode: str, count: int) -> dict[str, float]:
    """One round of one mode: per-task worker and producer CPU, in microseconds."""
    queue = f"bench{uuid.uuid4().hex[:8]}"
    env = mode_env(mode, queue)
    produce_empty = produce(0, env, queue)
    work_empty = work(env, queue)
    produce_full = produce(count, env, queue)
    work_full = work(env, queue)
    return {
        "worker_us": (work_full - work_empty) / count * 1e6,
        "enqueue_us": (produce_full - produce_empty) / count * 1e6,
    }


def micro(iterations: int, rounds: int) -> dict[str, Any]:
    """CPU microseconds per task of each mode's receivers, in this process."""
    import datetime

    os.environ.update(mode_env("ctxcarry", "default"))
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    import structlog
    from django.db.models.signals import pre_save
    from django.test.utils import override_settings
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult
    from opentelemetry import trace

    from ctxcarry.adapters import django_tasks as adapter
    from tests.django_tasks.vars import djt_tenant

    if django_6():
        from django.tasks.signals import task_enqueued, task_finished, task_started
    else:
        from django_tasks.signals import task_enqueued, task_finished, task_started

    def new_row(args_kwargs: dict[str, Any]) -> Any:
        return DBTaskResult(
            id=uuid.uuid4(),
            args_kwargs=args_kwargs,
            task_path="tests.django_tasks.tasks.noop",
            backend_name="default",
            queue_name="default",
            status="RUNNING",
            run_after=datetime.datetime(9999, 1, 1, tzinfo=datetime.timezone.utc),
        )

    structlog.contextvars.bind_contextvars(request_id="6f1c2a", user_id=42, a=1, b="two", c=3.5)
    with trace.get_tracer("bench").start_as_current_span("web"), djt_tenant("acme"):
        carried = new_row({"args": [], "kwargs": {}})
        pre_save.send(sender=DBTaskResult, instance=carried)  # the adapter stamps it
        structlog_context = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    row = carried  # what db_worker reads: the carrier in args_kwargs
    task_result = row.task_result

    peer = None
    caches = override_settings(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "django_structlog": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        }
    )
    caches.enable()
    if django_6():
        from django_structlog.tasks.receivers import DjangoTaskReceiver

        peer = DjangoTaskReceiver()
        with structlog.contextvars.bound_contextvars(**structlog_context):
            peer.receiver_task_enqueued(sender=DatabaseBackend, task_result=task_result)

    def run_side() -> None:
        task_started.send(sender=DatabaseBackend, task_result=task_result)
        task_finished.send(sender=DatabaseBackend, task_result=task_result)

    def enqueue_side() -> None:
        with structlog.contextvars.bound_contextvars(**structlog_context):
            pre_save.send(sender=DBTaskResult, instance=new_row({"args": [], "kwargs": {}}))
            task_enqueued.send(sender=DatabaseBackend, task_result=task_result)

    def connect(mode: str) -> None:
        if mode == "ctxcarry":
            adapter.install()
        else:
            adapter.uninstall()
        if peer is not None:
            for signal, receiver in (
                (task_started, peer.receiver_task_started),
                (task_finished, peer.receiver_task_finished),
                (task_enqueued, peer.receiver_task_enqueued),
            ):
                if mode == "django-structlog":
                    signal.connect(receiver, weak=False, dispatch_uid=f"bench-{signal!r}")
                else:
                    signal.disconnect(dispatch_uid=f"bench-{signal!r}")

    modes = ["none", "ctxcarry"] + (["django-structlog"] if peer is not None else [])
    samples: dict[str, dict[str, list[float]]] = {m: {"run": [], "enqueue": []} for m in modes}
    for number in range(rounds):
        for mode in modes[number % len(modes) :] + modes[: number % len(modes)]:
            connect(mode)
            for side, call in (("run", run_side), ("enqueue", enqueue_side)):
                call()
                start = time.process_time_ns()
                for _ in range(iterations):
                    call()
                elapsed = time.process_time_ns() - start
                samples[mode][side].append(elapsed / iterations / 1000)
                structlog.contextvars.clear_contextvars()
    connect("none")
    caches.disable()
    results: dict[str, Any] = {}
    for mode in modes:
        results[mode] = {}
        for side in ("run", "enqueue"):
            values = samples[mode][side]
            results[mode][f"{side}_us"] = round(statistics.median(values), 1)
            base = samples["none"][side]
            ratios = [value - none for value, none in zip(values, base, strict=True)]
            results[mode][f"{side}_added_us"] = round(statistics.median(ratios), 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="none,ctxcarry,django-structlog")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--micro", action="store_true", help="only the in-process receiver costs (fast)"
    )
    args = parser.parse_args()
    if args.micro:
        load_before = os.getloadavg()
        figures = micro(iterations=2000, rounds=max(args.rounds, 5))
        if args.json:
            print(json.dumps({"load_average": load_before, "modes": figures}, indent=2))
            return
        print(f"in-process, per task (CPU us, medians), load {load_before[0]:.1f}")
        print("| mode | signals at run | added | signals at enqueue | added |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for mode, row in figures.items():
            print(
                f"| {mode} | {row['run_us']:.1f} | {row['run_added_us']:+.1f} "
                f"| {row['enqueue_us']:.1f} | {row['enqueue_added_us']:+.1f} |"
            )
        return
    modes = [mode for mode in args.modes.split(",") if mode]
    skipped = []
    if "django-structlog" in modes and not django_6():
        modes.remove("django-structlog")
        skipped.append("django-structlog (its receivers need Django 6's django.tasks)")
    if "none" not in modes:
        modes.insert(0, "none")

    setup_database()
    rounds: list[dict[str, dict[str, float]]] = []
    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        for number in range(args.rounds):
            order = modes[number % len(modes) :] + modes[: number % len(modes)]
            rounds.append({mode: measure(mode, args.tasks) for mode in order})
    finally:
        admin(f"DROP DATABASE IF EXISTS {DATABASE}")
    results: dict[str, Any] = {
        "tasks": args.tasks,
        "rounds": args.rounds,
        "python": sys.version.split()[0],
        "django": __import__("django").get_version(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "seconds": round(time.monotonic() - started, 1),
        "skipped": skipped,
        "modes": {},
    }
    for mode in modes:
        row: dict[str, float] = {}
        for metric in ("worker_us", "enqueue_us"):
            values = [r[mode][metric] for r in rounds]
            row[metric] = round(statistics.median(values), 1)
            ratios = [r[mode][metric] / r["none"][metric] for r in rounds]
            row[metric.replace("_us", "_ratio")] = round(statistics.median(ratios), 3)
        results["modes"][mode] = row
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{args.tasks} tasks x {args.rounds} rounds, Python {results['python']}, "
        f"Django {results['django']}, load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}, "
        f"{results['seconds']} s"
    )
    print("| mode | worker CPU/task (us) | ratio | enqueue CPU (us) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for mode, row in results["modes"].items():
        print(
            f"| {mode} | {row['worker_us']:,.0f} | {row['worker_ratio']:.3f} "
            f"| {row['enqueue_us']:,.0f} | {row['enqueue_ratio']:.3f} |"
        )
    for note in skipped:
        print(f"skipped: {note}")


if __name__ == "__main__":
    main()
