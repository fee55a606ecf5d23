"""arq benchmark: worker CPU per job with and without propagation, and against OTel.

Each round runs every mode in a fresh process, in a rotating order, so machine
noise hits all modes alike. A round enqueues ``--jobs`` no-op jobs under the
same context (2 QueueVars, 5 structlog keys, a recording span; OTel SDK, no
exporter) onto its own queue, then runs arq's real ``Worker`` in burst mode
(``max_jobs=10``, ``poll_delay=0.01``, results not kept) in the same process
and measures the process CPU time of the worker's run, and separately of the
enqueues. Modes:

- ``none``: no propagation at all (arq's defaults);
- ``ctxcarry``: ``pool_options()`` on the producer, ``worker_settings()`` on the worker;
- ``otel``: opentelemetry-instrumentation-arq (``ArqInstrumentor().instrument()``);
- ``otel+ctxcarry``: both.

Figures are medians over rounds of CPU microseconds per job, and the median of
each round's ratio to ``none``.

    python benchmarks/bench_arq.py [--rounds 5] [--jobs 2000] [--modes none,ctxcarry,otel]
                                   [--micro] [--json]

``--micro`` adds the adapter's own steps per job, timed in isolation in one
process against arq's pickle alone: the serializer on the producer, and the
deserializer plus the hooks on the worker.

Needs Redis (``CTXCARRY_REDIS_URL``, database 10 is used; its queues are
deleted after each round).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MODES = ("none", "ctxcarry", "otel", "otel+ctxcarry")
LOG_KEYS = {
    "request_id": "5f0c6a1e-8d3b-4a59-9a53-0b8f4c2d7e11",
    "user_id": 1234,
    "organisation_id": 56,
    "project_id": 789,
    "environment_id": 1011,
}
VAR_VALUES = {"bench_arq_tenant": "acme", "bench_arq_region": "eu-west-1"}


def redis_url() -> str:
    parts = urlsplit(os.environ.get("CTXCARRY_REDIS_URL", "redis://127.0.0.1:6379/10"))
    return urlunsplit((parts.scheme, parts.netloc, "/10", parts.query, parts.fragment))


async def noop(ctx: dict[str, Any]) -> None:
    """The job: nothing, so that the worker's per-job cost is what is measured."""


async def child(mode: str, jobs: int) -> dict[str, float]:
    """One mode, one round, in this (fresh) process."""
    import structlog
    from arq import Worker, create_pool
    from arq.connections import RedisSettings
    from arq.worker import func
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar

    trace.set_tracer_provider(TracerProvider())
    if "otel" in mode:
        from opentelemetry.instrumentation.arq import ArqInstrumentor

        ArqInstrumentor().instrument()
    carrying = "ctxcarry" in mode
    pool_kwargs: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    if carrying:
        from ctxcarry.adapters.arq import pool_options, worker_settings

        pool_kwargs = pool_options()
    queue = f"ctxcarry-bench-arq-{uuid.uuid4().hex[:8]}"
    redis = RedisSettings.from_dsn(redis_url())
    pool = await create_pool(redis, default_queue_name=queue, **pool_kwargs)

    queue_vars = [QueueVar(name, default=None) for name in VAR_VALUES]
    for var, value in zip(queue_vars, VAR_VALUES.values(), strict=True):
        var.set(value)
    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    tracer = trace.get_tracer("bench")
    try:
        with tracer.start_as_current_span("web request"):
            started = time.process_time()
            for _ in range(jobs):
                await pool.enqueue_job("noop")
            enqueue_cpu = time.process_time() - started
        structlog.contextvars.clear_contextvars()

        settings = {
            "functions": [func(noop, name="noop")],
            "queue_name": queue,
            "redis_settings": redis,
            "burst": True,
            "handle_signals": False,
            "max_jobs": 10,
            "poll_delay": 0.01,
            "keep_result": 0,
        }
        if carrying:
            worker_settings(settings)
        worker = Worker(**settings)
        started = time.process_time()
        wall = time.perf_counter()
        await worker.async_run()
        worker_cpu = time.process_time() - started
        wall = time.perf_counter() - wall
        done = worker.jobs_complete
        await worker.close()
    finally:
        await pool.delete(queue, f"{queue}:health-check")
        await pool.aclose()
    if done != jobs:
        raise RuntimeError(f"{mode}: {done} of {jobs} jobs completed")
    return {
        "worker_us": worker_cpu / jobs * 1e6,
        "enqueue_us": enqueue_cpu / jobs * 1e6,
        "jobs_per_s": jobs / wall,
    }


def micro(loops: int, rounds: int) -> dict[str, dict[str, float]]:
    """The adapter's own steps per job, in isolation, against arq's pickle alone (CPU us)."""
    import pickle

    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar
    from ctxcarry.adapters.arq import pool_options, worker_settings

    trace.set_tracer_provider(TracerProvider())
    queue_vars = [QueueVar(f"micro_{name}", default=None) for name in VAR_VALUES]
    options = pool_options()
    hooks = worker_settings({})
    serializer, deserializer = options["job_serializer"], hooks["job_deserializer"]
    start, end = hooks["on_job_start"], hooks["after_job_end"]
    job = {"t": None, "f": "noop", "a": (), "k": {}, "et": 0}

    def enqueue_side(carrying: bool) -> float:
        dumps = serializer if carrying else pickle.dumps
        began = time.process_time()
        for _ in range(loops):
            dumps(job)
        return (time.process_time() - began) / loops * 1e6

    async def worker_side(carrying: bool, blob: bytes) -> float:
        ctx = {"job_id": "j", "job_try": 1}
        began = time.process_time()
        if carrying:
            for _ in range(loops):
                deserializer(blob)
                await start(ctx)
                await end(ctx)
        else:
            for _ in range(loops):
                pickle.loads(blob)
        return (time.process_time() - began) / loops * 1e6

    for var, value in zip(queue_vars, VAR_VALUES.values(), strict=True):
        var.set(value)
    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    with trace.get_tracer("bench").start_as_current_span("web request"):
        blob = serializer(job)
        plain_blob = pickle.dumps(job)
        samples: dict[str, list[float]] = {k: [] for k in ("ser0", "ser1", "run0", "run1")}
        for _ in range(rounds):
            samples["ser0"].append(enqueue_side(False))
            samples["ser1"].append(enqueue_side(True))
            samples["run0"].append(asyncio.run(worker_side(False, plain_blob)))
            samples["run1"].append(asyncio.run(worker_side(True, blob)))
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "enqueue: job serializer": {"pickle": med["ser0"], "ctxcarry": med["ser1"]},
        "worker: deserializer + hooks": {"pickle": med["run0"], "ctxcarry": med["run1"]},
        "carrier bytes": {"pickle": float(len(plain_blob)), "ctxcarry": float(len(blob))},
    }


def run_round(mode: str, jobs: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--micro", action="store_true", help="also time the adapter's own steps in isolation"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "micro":
        print(json.dumps(micro(2000, 15)))
        return
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.jobs))))
        return

    modes = [m for m in args.modes.split(",") if m]
    if "none" not in modes:
        modes.insert(0, "none")
    samples: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    ratios: dict[str, dict[str, list[float]]] = {
        m: {"worker_us": [], "enqueue_us": []} for m in modes
    }
    load_before = os.getloadavg()
    for round_index in range(args.rounds):
        order = modes[round_index % len(modes) :] + modes[: round_index % len(modes)]
        this_round = {mode: run_round(mode, args.jobs) for mode in order}
        for mode, sample in this_round.items():
            samples[mode].append(sample)
            for key in ("worker_us", "enqueue_us"):
                ratios[mode][key].append(sample[key] / this_round["none"][key])
    steps = run_round("micro", 0) if args.micro else {}
    load_after = os.getloadavg()

    table = []
    for mode in modes:
        table.append(
            {
                "mode": mode,
                "worker_us": statistics.median(s["worker_us"] for s in samples[mode]),
                "worker_ratio": statistics.median(ratios[mode]["worker_us"]),
                "enqueue_us": statistics.median(s["enqueue_us"] for s in samples[mode]),
                "enqueue_ratio": statistics.median(ratios[mode]["enqueue_us"]),
                "jobs_per_s": statistics.median(s["jobs_per_s"] for s in samples[mode]),
            }
        )
    meta = {
        "python": platform.python_version(),
        "rounds": args.rounds,
        "jobs": args.jobs,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": table, "steps": steps}, indent=2))
        return
    print(
        f"Python {meta['python']}, {args.jobs} no-op jobs x {args.rounds} rounds per mode, "
        f"load {meta['load_before']} -> {meta['load_after']}"
    )
    print("worker CPU per job and enqueue CPU per job (us, medians); ratios to none")
    print(f"{'mode':<15}{'worker us':>10}{'ratio':>8}{'enqueue us':>12}{'ratio':>8}{'jobs/s':>9}")
    for row in table:
        print(
            f"{row['mode']:<15}{row['worker_us']:>10.1f}{row['worker_ratio']:>8.3f}"
            f"{row['enqueue_us']:>12.1f}{row['enqueue_ratio']:>8.3f}{row['jobs_per_s']:>9.0f}"
        )
    if steps:
        print("\nthe adapter's own steps per job, in isolation (CPU us; bytes of the stored job)")
        print(f"{'step':<32}{'arq alone':>10}{'ctxcarry':>10}{'added':>8}")
        for step, pair in steps.items():
            added = pair["ctxcarry"] - pair["pickle"]
            print(f"{step:<32}{pair['pickle']:>10.1f}{pair['ctxcarry']:>10.1f}{added:>8.1f}")


if __name__ == "__main__":
    main()
