"""RQ: worker CPU per job with and without context propagation, through a real Redis.

    python -m benchmarks.bench_rq                  # 1,000 jobs x 4 modes x 5 rounds
    python -m benchmarks.bench_rq --jobs 3000 --rounds 7 --json

Modes, each measured in a fresh process, interleaved round by round (the order
rotates) so that machine noise hits every mode alike:

- ``none``: no propagation at all (the baseline);
- ``ctxcarry``: ``ctxcarry.adapters.rq.install()`` in producer and worker;
- ``sentry``: sentry-sdk's RQ integration, the peer that propagates a trace
  (``_sentry_trace_headers`` in ``job.meta``), traces_sample_rate=1.0, events
  dropped by a no-op transport;
- ``otel-rq``: opentelemetry-instrumentation-rq (SDK TracerProvider, no
  exporter; on rq 3 its ``instrument()`` raises after wrapping the enqueue
  and perform methods, which stay wrapped).

In every mode the producer enqueues inside the same context: an SDK span, two
QueueVars and five structlog keys. Each run enqueues ``--jobs`` no-op jobs,
timing the process CPU of the enqueues, then runs them with a
``SimpleWorker(...).work(burst=True)`` in the same process and times its
process CPU. A SimpleWorker runs the jobs in process, so the CPU measured is
exactly the worker's per-job cost (rq's Redis round trips included, Redis
itself not); a forking ``Worker`` adds a ``fork()`` per job on top of the same
work. Logging below WARNING is dropped in every mode.

Reported: medians over rounds of CPU microseconds per job (worker) and per
enqueue (producer), and of each mode's ratio to ``none`` in the same round.

``--hooks`` measures, in one process and without Redis, what the adapter adds
to one job on each side: ``Job.create`` (what every enqueue path calls) with
and without ``install()``, and the run side's work, ``extract`` of the job's
carrier entered and exited, with the task identity bound (what the adapter
does around ``perform_job``), against an empty ``with`` block. These are
stable where the end-to-end figures drown in a loaded machine's noise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

MODES = ("none", "ctxcarry", "sentry", "otel-rq")
DEFAULT_REDIS = os.environ.get("CTXCARRY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
WARMUP = 50
JOB = "benchmarks.bench_rq.noop"  # by name: the worker imports it like any job module
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def noop() -> None:
    """The job: nothing, so that what is measured is the queue and the propagation."""


def _set_up(mode: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())
    if mode == "ctxcarry":
        from ctxcarry.adapters.rq import install

        install()
    elif mode == "sentry":
        import sentry_sdk
        from sentry_sdk.integrations.rq import RqIntegration

        sentry_sdk.init(
            dsn="http://public@127.0.0.1:9/1",
            integrations=[RqIntegration()],
            traces_sample_rate=1.0,
            default_integrations=False,
            transport=lambda envelope: None,
        )
    elif mode == "otel-rq":
        from opentelemetry_instrumentation_rq import RQInstrumentor

        with contextlib.suppress(Exception):
            RQInstrumentor().instrument()


def run_one(mode: str, jobs: int, redis_url: str) -> dict[str, float]:
    """Enqueue then work ``jobs`` no-op jobs in this process; return CPU per job."""
    import logging

    logging.disable(logging.INFO)
    _set_up(mode)

    import redis
    import structlog
    from opentelemetry import trace
    from rq import Queue, SimpleWorker

    from ctxcarry import QueueVar

    tenant = QueueVar("bench_tenant", default=None)
    region = QueueVar("bench_region", default=None)
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"ctxcarry-bench-rq-{uuid.uuid4().hex[:8]}", connection=connection)
    tracer = trace.get_tracer("bench")
    try:
        with (
            tracer.start_as_current_span("request"),
            tenant("acme"),
            region("eu-west-1"),
            structlog.contextvars.bound_contextvars(
                request_id="6f1c2a", user_id=42, path="/orders", method="POST", ip="10.0.0.1"
            ),
        ):
            for _ in range(WARMUP):
                queue.enqueue(JOB, result_ttl=0)
            SimpleWorker([queue], connection=connection).work(burst=True)
            start = time.process_time()
            for _ in range(jobs):
                queue.enqueue(JOB, result_ttl=0)
            enqueue = time.process_time() - start
        worker = SimpleWorker([queue], connection=connection)
        start = time.process_time()
        worker.work(burst=True)
        work = time.process_time() - start
        assert queue.count == 0, queue.count
        assert queue.failed_job_registry.count == 0, "jobs failed"
    finally:
        queue.delete(delete_jobs=True)
        connection.close()
    return {"worker_us": work / jobs * 1e6, "enqueue_us": enqueue / jobs * 1e6}


def hooks(rounds: int, loops: int = 2000) -> dict[str, float]:
    """CPU microseconds per call of each side's hook, medians of interleaved rounds."""
    import contextlib as _contextlib

    import redis
    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from rq.job import Job

    from ctxcarry import QueueVar, extract
    from ctxcarry.adapters import rq as adapter
    from ctxcarry.kit import bind_task_identity

    trace.set_tracer_provider(TracerProvider())
    tenant = QueueVar("bench_hooks_tenant", default=None)
    region = QueueVar("bench_hooks_region", default=None)
    connection = redis.Redis.from_url(DEFAULT_REDIS)  # never contacted: create only
    keys = {"request_id": "6f1c2a", "user_id": 42, "path": "/orders", "method": "POST"}

    def create() -> Any:
        return Job.create(JOB, connection=connection, result_ttl=0)

    def run_side(carrier: Any) -> None:
        with extract(carrier):
            bind_task_identity(task_id="b0d2", task_name=JOB, parent_task_id=None)

    def timed(fn: Any, *args: Any) -> float:
        start = time.process_time()
        for _ in range(loops):
            fn(*args)
        return (time.process_time() - start) / loops * 1e6

    samples: dict[str, list[float]] = {k: [] for k in ("create", "create+", "run0", "run+")}
    with (
        trace.get_tracer("bench").start_as_current_span("request"),
        tenant("acme"),
        region("eu-west-1"),
        structlog.contextvars.bound_contextvars(ip="10.0.0.1", **keys),
    ):
        adapter.install()
        carrier = create().meta[adapter.META_KEY]
        adapter.uninstall()
        for _ in range(rounds):
            samples["create"].append(timed(create))
            adapter.install()
            samples["create+"].append(timed(create))
            adapter.uninstall()
            samples["run0"].append(timed(lambda: _contextlib.nullcontext().__enter__()))
            samples["run+"].append(timed(run_side, carrier))
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "create_us": med["create"],
        "create_installed_us": med["create+"],
        "enqueue_added_us": med["create+"] - med["create"],
        "run_added_us": med["run+"] - med["run0"],
        "carrier_bytes": len(json.dumps(carrier, separators=(",", ":"))),
    }


def _child(mode: str, jobs: int, redis_url: str) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_rq", "--child", mode]
    done = subprocess.run(
        [*command, "--jobs", str(jobs), "--redis", redis_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _environment() -> str:
    import platform

    import rq

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Python {platform.python_version()}, rq {rq.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--hooks", action="store_true", help="per-hook CPU, no Redis")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hooks:
        figures = hooks(args.rounds)
        figures_env = _environment()
        if args.json:
            print(json.dumps({"environment": figures_env, **figures}, indent=2))
            return
        print(figures_env)
        create, installed = figures["create_us"], figures["create_installed_us"]
        print(f"Job.create: {create:.1f} us, installed {installed:.1f} us")
        print(f"added per enqueue: {figures['enqueue_added_us']:.1f} us")
        print(f"added per job on the worker (extract + identity): {figures['run_added_us']:.1f} us")
        print(f"carrier: {figures['carrier_bytes']} bytes of JSON")
        return
    if args.child:
        print(json.dumps(run_one(args.child, args.jobs, args.redis)))
        return

    modes = [mode for mode in args.modes.split(",") if mode]
    environment_before = _environment()
    samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    ratios: dict[str, dict[str, list[float]]] = {
        mode: {"worker": [], "enqueue": []} for mode in modes
    }
    for round_number in range(args.rounds):
        order = modes[round_number % len(modes) :] + modes[: round_number % len(modes)]
        results = {mode: _child(mode, args.jobs, args.redis) for mode in order}
        for mode in modes:
            samples[mode].append(results[mode])
            if "none" in results:
                base = results["none"]
                ratios[mode]["worker"].append(results[mode]["worker_us"] / base["worker_us"])
                ratios[mode]["enqueue"].append(results[mode]["enqueue_us"] / base["enqueue_us"])

    summary: dict[str, Any] = {
        "environment": environment_before,
        "environment_after": _environment(),
        "jobs": args.jobs,
        "rounds": args.rounds,
        "modes": {},
    }
    for mode in modes:
        summary["modes"][mode] = {
            "worker_us": statistics.median(s["worker_us"] for s in samples[mode]),
            "enqueue_us": statistics.median(s["enqueue_us"] for s in samples[mode]),
            "worker_ratio": statistics.median(ratios[mode]["worker"] or [float("nan")]),
            "enqueue_ratio": statistics.median(ratios[mode]["enqueue"] or [float("nan")]),
        }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['environment']} (after: {summary['environment_after'].rsplit(', ', 1)[-1]})")
    print(f"{args.jobs} jobs x {args.rounds} rounds, medians; CPU of the process, SimpleWorker")
    print(f"{'mode':<10}{'worker us/job':>15}{'vs none':>9}{'enqueue us':>12}{'vs none':>9}")
    for mode, row in summary["modes"].items():
        print(
            f"{mode:<10}{row['worker_us']:>15.1f}{row['worker_ratio']:>9.3f}"
            f"{row['enqueue_us']:>12.1f}{row['enqueue_ratio']:>9.3f}"
        )


if __name__ == "__main__":
    main()
