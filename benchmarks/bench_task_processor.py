"""Task processor benchmark: the adapter's cost per task inside flagsmith's processor loop.

Each round enqueues a batch of no-op tasks with ``.delay()`` (one INSERT each)
and runs them with flagsmith-common's own ``run_tasks`` (the runner loop's
body: ``get_tasks_to_process`` with ``FOR UPDATE SKIP LOCKED``, a span and a
fresh pool thread per task, ``bulk_update`` + ``bulk_create``), all through a
real PostgreSQL. The same batch runs once with the adapter installed and once
without (``uninstall()``), in alternating order, so machine noise hits both
alike. Both arms enqueue under the same context: 5 structlog keys, 2
QueueVars and a recording span (OTel SDK, no exporter). The runner thread has
no bindings of its own, as in the processor.

Figures are medians over rounds; the overhead is relative to the task round
trip (enqueue + run) measured without the adapter in the same run. A second
table times the adapter's own steps in isolation to show where its time goes.

    python benchmarks/bench_task_processor.py [--rounds 400] [--batch 10] [--json]

Needs PostgreSQL (``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``, default
127.0.0.1:5432 user postgres); creates and drops the database
``ctxcarry_bench_task_processor_<pid>``, a name no test run uses (test
databases are named ``test_ctxcarry*``), so a benchmark and a test suite can
run side by side.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import _timing
import django
import structlog
from django.conf import settings
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ctxcarry import QueueVar

LOG_KEYS = {
    "request_id": "5f0c6a1e-8d3b-4a59-9a53-0b8f4c2d7e11",
    "user_id": 1234,
    "organisation_id": 56,
    "project_id": 789,
    "environment_id": 1011,
}
VAR_VALUES = {"bench_tp_tenant": "acme", "bench_tp_region": "eu-west-1"}
DATABASE = f"ctxcarry_bench_task_processor_{os.getpid()}"
GOAL = 0.02

queue_vars = {name: QueueVar(name, default=None) for name in VAR_VALUES}


def configure_django() -> None:
    """Minimal settings for flagsmith-common's task processor on PostgreSQL."""
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "task_processor",
            "ctxcarry.adapters.task_processor",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": os.environ.get("PGHOST", "127.0.0.1"),
                "PORT": int(os.environ.get("PGPORT", "5432")),
                "USER": os.environ.get("PGUSER", "postgres"),
                "PASSWORD": os.environ.get("PGPASSWORD", ""),
                "NAME": "postgres",
                "TEST": {"NAME": DATABASE},
                # Commits without waiting for the disk: less noise, and a faster
                # (smaller) round trip, which makes the ratio harder to meet.
                "OPTIONS": {"options": "-c synchronous_commit=off"},
            }
        },
        TASK_RUN_METHOD="TASK_PROCESSOR",
        TASK_PROCESSOR_MODE=True,
        DOCGEN_MODE=False,
        TASK_PROCESSOR_DATABASES=["default"],
        ENABLE_TASK_PROCESSOR_HEALTH_CHECK=False,
        TASK_BACKOFF_DEFAULT_DELAY_SECONDS=1,
    )
    django.setup()


def bind_request_context(tracer: trace.Tracer) -> None:
    """What a web request typically has bound when it enqueues a task."""
    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    for name, value in VAR_VALUES.items():
        queue_vars[name].set(value)
    span = tracer.start_span("request")
    otel_context.attach(trace.set_span_in_context(span))


class Arm:
    """Enqueue + run one batch of no-op tasks; returns microseconds per task for each phase."""

    def __init__(self, tracer: trace.Tracer, batch: int, pop_size: int) -> None:
        from task_processor.decorators import register_task_handler

        def noop() -> None:
            """The task body: nothing, so the figures are pure machinery."""

        self.handler = register_task_handler(
            task_name="ctxcarry_bench_noop", timeout=timedelta(seconds=60)
        )(noop)
        self.batch = batch
        self.pop_size = pop_size
        self.request_context = contextvars.Context()
        self.request_context.run(bind_request_context, tracer)

    def _enqueue_batch(self) -> None:
        delay = self.handler.delay
        for _ in range(self.batch):
            delay()

    def _run_batch(self) -> None:
        from task_processor.processor import run_tasks

        done = 0
        while done < self.batch:
            done += len(run_tasks("default", self.pop_size))

    def measure(self) -> tuple[float, float, float]:
        """Wall-clock us per task to enqueue and to run, and this process's CPU us per task."""
        cpu_started = time.process_time()
        started = time.perf_counter()
        self.request_context.run(self._enqueue_batch)
        enqueued = time.perf_counter()
        self._run_batch()  # in this (the runner's) context: no bindings
        finished = time.perf_counter()
        cpu_us = (time.process_time() - cpu_started) / self.batch * 1e6
        per_task = 1e6 / self.batch
        return (enqueued - started) * per_task, (finished - enqueued) * per_task, cpu_us


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE task_processor_taskrun, task_processor_task")


def measure_loop(arm: Arm, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Alternate the arms every batch (ABBA), so slow drift and load spikes hit both."""
    from ctxcarry.adapters.task_processor import install, uninstall

    switch = {"with": install, "without": uninstall}
    samples: dict[str, dict[str, list[float]]] = {
        name: {"enqueue": [], "run": [], "total": [], "cpu": []} for name in switch
    }
    for name in switch:  # warm up connections and caches for both arms
        switch[name]()
        arm.measure()
    for round_no in range(rounds):
        order = ("with", "without") if round_no % 2 == 0 else ("without", "with")
        for name in order:
            switch[name]()
            enqueue_us, run_us, cpu_us = arm.measure()
            samples[name]["cpu"].append(cpu_us)
            samples[name]["enqueue"].append(enqueue_us)
            samples[name]["run"].append(run_us)
            samples[name]["total"].append(enqueue_us + run_us)
        if round_no % 50 == 49:
            empty_tables()
    install()
    return samples


def measure_steps(arm: Arm, rounds: int, loops: int) -> dict[str, float]:
    """The adapter's own work per task, each step timed alone (medians, microseconds)."""
    from ctxcarry import get_default_carrier

    carrier = get_default_carrier()
    stamped = arm.request_context.run(carrier.inject, {})
    stored = json.loads(json.dumps(stamped))  # what the runner reads back from the row

    def runner_extract() -> None:
        with carrier.extract(stored, restore_trace="never"):
            pass

    def submit_with_context() -> None:
        contextvars.copy_context().run(len, ())

    steps: dict[str, Callable[[], object]] = {
        "enqueue: inject into trace_context": lambda: arm.request_context.run(carrier.inject, {}),
        "run: restore + undo in the runner": runner_extract,
        "run: copy the context into the pool": submit_with_context,
    }
    samples = _timing.interleaved(steps, rounds=rounds, loops=loops)
    return {name: _timing.median(values) for name, values in samples.items()}


def measure_in_loop(arm: Arm, batches: int) -> dict[str, float]:
    """The core calls the adapter makes, timed inside the loop (us per task).

    Caches are cold there (database round trips run between the calls), so
    these are larger than the same calls in a tight loop (``measure_steps``).
    The timing wrappers cost well under a microsecond per call.
    """
    from ctxcarry import Carrier, Extraction

    spent: dict[str, float] = {"inject": 0.0, "extract enter": 0.0, "extract exit": 0.0}
    originals = {
        (Carrier, "inject"): Carrier.inject,
        (Extraction, "__enter__"): Extraction.__enter__,
        (Extraction, "__exit__"): Extraction.__exit__,
    }

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return call

    for (owner, attr), name in zip(originals, spent, strict=True):
        setattr(owner, attr, timed(name, originals[owner, attr]))
    try:
        for _ in range(batches):
            arm.measure()
    finally:
        for (owner, attr), original in originals.items():
            setattr(owner, attr, original)
    return {name: total / (batches * arm.batch) * 1e6 for name, total in spent.items()}


def summarise(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for phase in ("enqueue", "run", "total", "cpu"):
        with_us = _timing.median(samples["with"][phase])
        without_us = _timing.median(samples["without"][phase])
        result[phase] = {
            "without_us": without_us,
            "with_us": with_us,
            "overhead_us": with_us - without_us,
            "overhead": (with_us - without_us) / without_us,
        }
    paired = [
        w / wo - 1
        for w, wo in zip(samples["with"]["total"], samples["without"]["total"], strict=True)
    ]
    result["total"]["median_paired_overhead"] = _timing.median(paired)
    cpu = result["cpu"]
    cpu["share_of_round_trip"] = cpu["overhead_us"] / result["total"]["without_us"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--pop-size", type=int, default=10, help="tasks per run_tasks call")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)

    env = _timing.environment()
    provider = TracerProvider()  # recording spans, no exporter: we time the processor only
    trace.set_tracer_provider(provider)
    configure_django()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        arm = Arm(provider.get_tracer("bench"), args.batch, args.pop_size)
        result = summarise(measure_loop(arm, args.rounds))
        result["steps_us"] = measure_steps(arm, rounds=15, loops=2000)
        result["in_loop_us"] = measure_in_loop(arm, batches=100)
    finally:
        connection.creation.destroy_test_db(DATABASE, verbosity=0)
    round_trip = result["total"]["without_us"]
    result["steps_share_of_round_trip"] = sum(result["steps_us"].values()) / round_trip
    result["in_loop_share_of_round_trip"] = sum(result["in_loop_us"].values()) / round_trip
    result.update(
        environment=_timing.finish_environment(env),
        rounds=args.rounds,
        batch=args.batch,
        pop_size=args.pop_size,
        goal=GOAL,
    )
    _timing.emit(result, args.json, render)
    return 0


def render(result: Mapping[str, Any]) -> str:
    lines: list[str] = []
    lines.append(
        f"{result['rounds']} rounds x {result['batch']} no-op tasks "
        f"per arm, run_tasks pop size {result['pop_size']}; medians per task"
    )
    lines.append(
        f"{'phase':<8} {'without us':>11} {'with us':>9} {'overhead us':>12} {'overhead':>9}"
    )
    for phase in ("enqueue", "run", "total"):
        row = result[phase]
        lines.append(
            f"{phase:<8} {row['without_us']:>11.1f} {row['with_us']:>9.1f} "
            f"{row['overhead_us']:>12.1f} {row['overhead']:>9.2%}"
        )
    total = result["total"]
    verdict = "ok" if total["overhead"] <= result["goal"] else "MISSED"
    lines.append(
        f"round trip overhead {total['overhead']:.2%} (median of paired rounds "
        f"{total['median_paired_overhead']:.2%}); goal <= {result['goal']:.0%}: {verdict}"
    )
    cpu = result["cpu"]
    lines.append(
        f"process CPU per task: {cpu['without_us']:.1f} -> {cpu['with_us']:.1f} us; "
        f"the added {cpu['overhead_us']:.1f} us are {cpu['share_of_round_trip']:.2%} "
        "of the round trip"
    )
    lines.append("adapter steps alone, in a tight loop (us per task):")
    for name, value in result["steps_us"].items():
        lines.append(f"  {name:<40} {value:>7.2f}")
    lines.append(
        f"  {'sum, as a share of the round trip':<40} {result['steps_share_of_round_trip']:>7.2%}"
    )
    lines.append("the same core calls timed inside the processor loop (us per task):")
    for name, value in result["in_loop_us"].items():
        lines.append(f"  {name:<40} {value:>7.2f}")
    lines.append(
        f"  {'sum, as a share of the round trip':<40} {result['in_loop_share_of_round_trip']:>7.2%}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
