"""Dramatiq benchmark: worker CPU per message with and without propagation, and against Sentry.

Each round runs one mode in a fresh process (sentry-sdk patches ``Broker`` for
the whole process): it enqueues a batch of messages for a no-op actor under the
same context (5 structlog keys, 2 QueueVars and a recording span: OTel SDK, no
exporter), then starts a real ``dramatiq.Worker`` (1 worker thread) in that
process and measures the **process CPU time** (``time.process_time``: consumer
and worker threads together) from the worker's start until the batch is done.
The publish side is measured too: CPU per ``send()``. Rounds are interleaved
with a rotating order so machine noise hits every mode alike; figures are
medians, ratios are against ``none`` in the same run.

Modes:

- ``none``: no propagation at all;
- ``ctxcarry``: ``install(broker)``;
- ``sentry``: sentry-sdk's Dramatiq integration, the only peer that propagates
  anything across Dramatiq (its own trace headers), with ``traces_sample_rate=0``
  and no transport: the cost of its middleware, not of sending events;
- ``sentry-traced``: the same with ``traces_sample_rate=1.0`` (a transaction per
  message, dropped by a no-op transport);
- ``both``: sentry (rate 0) and ctxcarry in one broker.

Brokers: ``stub`` (the in-memory StubBroker: the adapter's share is the least
diluted) or ``redis`` (a RedisBroker on ``CTXCARRY_BENCH_REDIS``, default
``redis://127.0.0.1:6379/8``, in a namespace of its own, deleted afterwards).

    python benchmarks/bench_dramatiq.py [--broker stub|redis] [--messages 2000]
        [--rounds 5] [--modes none,ctxcarry,sentry] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

LOG_KEYS = {
    "request_id": "5f0c6a1e-8d3b-4a59-9a53-0b8f4c2d7e11",
    "user_id": 1234,
    "organisation_id": 56,
    "project_id": 789,
    "environment_id": 1011,
}
VAR_VALUES = {"bench_dq_tenant": "acme", "bench_dq_region": "eu-west-1"}
MODES = ("none", "ctxcarry", "sentry", "sentry-traced", "both")
REDIS_URL = os.environ.get("CTXCARRY_BENCH_REDIS", "redis://127.0.0.1:6379/8")


def run_child(mode: str, broker_kind: str, messages: int) -> dict[str, float]:
    """One round of one mode, in this (fresh) process."""
    if mode.startswith("sentry") or mode == "both":
        import sentry_sdk
        from sentry_sdk.integrations.dramatiq import DramatiqIntegration
        from sentry_sdk.transport import Transport

        class NoTransport(Transport):
            def capture_envelope(self, envelope: Any) -> None:
                pass

        sentry_sdk.init(
            dsn="https://public@sentry.invalid/1",
            transport=NoTransport,
            traces_sample_rate=1.0 if mode == "sentry-traced" else 0.0,
            default_integrations=False,
            integrations=[DramatiqIntegration()],
        )

    import dramatiq
    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar

    namespace = f"ctxcarry-bench-dramatiq-{uuid.uuid4().hex[:8]}"
    broker: dramatiq.Broker
    if broker_kind == "redis":
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=REDIS_URL, namespace=namespace)
    else:
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker()
        broker.emit_after("process_boot")
    if mode in ("ctxcarry", "both"):
        from ctxcarry.adapters.dramatiq import install

        install(broker)

    done = threading.Event()
    count = 0
    lock = threading.Lock()

    def noop() -> None:
        nonlocal count
        with lock:
            count += 1
            if count == messages:
                done.set()

    actor = dramatiq.actor(noop, broker=broker, actor_name="noop", queue_name="bench")
    broker.declare_queue("bench")
    trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("bench")
    queue_vars = [QueueVar(name, default=None) for name in VAR_VALUES]

    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    bindings = [var(value) for var, value in zip(queue_vars, VAR_VALUES.values(), strict=True)]
    for binding in bindings:
        binding.__enter__()
    with tracer.start_as_current_span("request"):
        publish_start = time.process_time()
        for _ in range(messages):
            actor.send()
        publish_cpu = time.process_time() - publish_start
    for binding in reversed(bindings):
        binding.__exit__(None, None, None)
    structlog.contextvars.clear_contextvars()

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    start_cpu = time.process_time()
    start_wall = time.perf_counter()
    worker.start()
    if not done.wait(timeout=600):
        raise RuntimeError(f"only {count} of {messages} messages ran")
    worker_cpu = time.process_time() - start_cpu
    wall = time.perf_counter() - start_wall
    worker.stop()
    if broker_kind == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{namespace}*", count=1000):
            client.delete(key)
        client.close()
    broker.close()
    return {
        "worker_cpu_us": worker_cpu / messages * 1e6,
        "worker_wall_us": wall / messages * 1e6,
        "publish_cpu_us": publish_cpu / messages * 1e6,
    }


def run_round(mode: str, broker_kind: str, messages: int) -> dict[str, float]:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--broker",
            broker_kind,
            "--messages",
            str(messages),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", choices=("stub", "redis"), default="stub")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.broker, args.messages)))
        return

    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; use {MODES}")
    if "none" not in modes:
        modes.insert(0, "none")
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for round_index in range(args.rounds):
        order = modes[round_index % len(modes) :] + modes[: round_index % len(modes)]
        for mode in order:
            results[mode].append(run_round(mode, args.broker, args.messages))
    load_after = os.getloadavg()

    def ratios(mode: str, key: str) -> float:
        per_round = [
            mine[key] / base[key] for mine, base in zip(results[mode], results["none"], strict=True)
        ]
        return statistics.median(per_round)

    table = {
        mode: {
            key: statistics.median(r[key] for r in results[mode])
            for key in ("worker_cpu_us", "worker_wall_us", "publish_cpu_us")
        }
        | {
            "worker_cpu_ratio": ratios(mode, "worker_cpu_us"),
            "publish_cpu_ratio": ratios(mode, "publish_cpu_us"),
        }
        for mode in modes
    }
    report = {
        "broker": args.broker,
        "messages": args.messages,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "load_before": load_before,
        "load_after": load_after,
        "modes": table,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"Dramatiq, {args.broker} broker, {args.messages} no-op messages x {args.rounds} rounds, "
        f"1 worker thread; load {load_before[0]:.2f} -> {load_after[0]:.2f}"
    )
    print(
        f"{'mode':<14} {'worker CPU us/msg':>18} {'ratio':>7} {'publish CPU us':>15} {'ratio':>7}"
    )
    for mode, row in table.items():
        print(
            f"{mode:<14} {row['worker_cpu_us']:>18.1f} {row['worker_cpu_ratio']:>7.3f} "
            f"{row['publish_cpu_us']:>15.1f} {row['publish_cpu_ratio']:>7.3f}"
        )


if __name__ == "__main__":
    main()
