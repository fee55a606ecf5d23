"""Taskiq: worker CPU per task with and without propagation, and against OpenTelemetry.

    python benchmarks/bench_taskiq.py                  # 20,000 tasks x 4 modes x 5 rounds
    python benchmarks/bench_taskiq.py --tasks 50000 --rounds 7 --json

Modes, each measured in a fresh process, interleaved round by round (the order
rotates) so that machine noise hits every mode alike:

- ``none``: no propagation at all (the baseline);
- ``ctxcarry``: ``ctxcarry.adapters.taskiq.install(broker)``;
- ``otel``: Taskiq's built-in ``OpenTelemetryMiddleware`` (SDK TracerProvider,
  no exporter), which propagates the trace and starts a span per task;
- ``ctxcarry+otel``: both (ours first, as ``install`` puts it).

In every mode the sender runs inside the same context: an SDK span, two
QueueVars and five structlog keys. The sender builds ``--tasks`` messages the
way ``kiq()`` does (``_prepare_message``, every middleware's ``pre_send``,
the broker's formatter) and the CPU time of that is the *send* cost. The
worker side is Taskiq's own ``Receiver.callback`` (what ``taskiq worker``
runs for every message: parse, labels, ``pre_execute``, the task,
``post_execute``, the result) on those messages, each in its own asyncio task
as the worker runs them, in batches of 100; its CPU time (``process_time``)
is the *worker* cost. No broker I/O is included: the figures are what
propagation adds on top of whatever the transport costs.

Reported: medians over rounds of microseconds per task (worker and send), and
of each mode's ratio to ``none`` measured in the same round; then the
adapter's own hooks alone, in a tight loop (``pre_send``, and ``pre_execute``
plus ``post_execute`` each in a fresh copy of an empty context, as a worker
task has), next to the core's extract enter/exit on the same carrier.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import subprocess
import sys
import time
from typing import Any

MODES = ("none", "ctxcarry", "otel", "ctxcarry+otel")
MICRO_LOOPS = 20_000
BATCH = 100
WARMUP = 500


def _broker(mode: str) -> Any:
    from taskiq import InMemoryBroker

    broker = InMemoryBroker(max_async_tasks=BATCH)
    if "otel" in mode:
        from taskiq.middlewares.opentelemetry_middleware import OpenTelemetryMiddleware

        broker.add_middlewares(OpenTelemetryMiddleware())
    if "ctxcarry" in mode:
        from ctxcarry.adapters.taskiq import install

        install(broker)
    return broker


def run_one(mode: str, tasks: int) -> dict[str, Any]:
    """One mode in this process: CPU microseconds per task, send side and worker side."""
    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from ctxcarry import QueueVar

    trace.set_tracer_provider(TracerProvider())  # spans are made, never exported
    tenant = QueueVar("bench_taskiq.tenant", default=None)
    user = QueueVar("bench_taskiq.user", default=None)
    broker = _broker(mode)

    @broker.task(task_name="bench.noop")
    async def noop(index: int) -> None:
        return None

    async def send(count: int) -> list[bytes]:
        kicker = noop.kicker()
        messages = []
        for index in range(count):
            message = kicker._prepare_message(index)
            for middleware in broker.middlewares:
                message = middleware.pre_send(message)
            messages.append(broker.formatter.dumps(message).message)
            for middleware in reversed(broker.middlewares):
                middleware.post_send(message)
        return messages

    async def work(messages: list[bytes]) -> None:
        callback = broker.receiver.callback
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            await asyncio.gather(*(asyncio.create_task(callback(m)) for m in batch))

    async def main() -> tuple[float, float]:
        await broker.startup()
        structlog.contextvars.bind_contextvars(
            request_id="7f3a9c", user_id=42, org="acme", path="/orders", client="web"
        )
        span = trace.get_tracer("bench").start_as_current_span("request")
        with span, tenant("acme"), user("u-42"):
            await work(await send(WARMUP))
            started = time.process_time()
            messages = await send(tasks)
            send_cpu = time.process_time() - started
        structlog.contextvars.clear_contextvars()
        started = time.process_time()
        await work(messages)
        work_cpu = time.process_time() - started
        await broker.shutdown()
        return send_cpu, work_cpu

    send_cpu, work_cpu = asyncio.run(main())
    return {
        "mode": mode,
        "send_us": send_cpu / tasks * 1e6,
        "worker_us": work_cpu / tasks * 1e6,
    }


def run_micro(loops: int) -> dict[str, float]:
    """The adapter's hooks alone, microseconds per call (CPU time), in a tight loop."""
    import contextvars

    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from taskiq import InMemoryBroker

    from ctxcarry import QueueVar, get_default_carrier
    from ctxcarry.adapters.taskiq import install
    from ctxcarry.adapters.taskiq.wire import LABEL

    trace.set_tracer_provider(TracerProvider())
    tenant = QueueVar("bench_taskiq_micro.tenant", default=None)
    user = QueueVar("bench_taskiq_micro.user", default=None)
    broker = InMemoryBroker()
    middleware = install(broker)

    @broker.task(task_name="bench.micro")
    async def noop() -> None:
        return None

    message = noop.kicker()._prepare_message()
    structlog.contextvars.bind_contextvars(
        request_id="7f3a9c", user_id=42, org="acme", path="/orders", client="web"
    )
    results = {}
    span = trace.get_tracer("bench").start_as_current_span("request")
    with span, tenant("acme"), user("u-42"):
        started = time.process_time()
        for _ in range(loops):
            middleware.pre_send(message)
        results["pre_send"] = (time.process_time() - started) / loops * 1e6
        carried = get_default_carrier().inject()
    structlog.contextvars.clear_contextvars()
    empty = contextvars.Context()

    def run_hooks() -> None:
        middleware.post_execute(middleware.pre_execute(message), None)  # type: ignore[arg-type]

    def run_core() -> None:
        scope = get_default_carrier().extract(carried, restore_trace="if_no_active_span")
        scope.enter()
        scope.exit()

    for name, step in (("pre_execute+post_execute", run_hooks), ("core enter+exit", run_core)):
        started = time.process_time()
        for _ in range(loops):
            empty.copy().run(step)
        results[name] = (time.process_time() - started) / loops * 1e6
    assert LABEL in message.labels
    return results


def _run_in_child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--tasks", str(args.tasks)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _summary(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    summary = {}
    for mode in MODES:
        summary[mode] = {
            "worker_us": statistics.median(r[mode]["worker_us"] for r in rounds),
            "send_us": statistics.median(r[mode]["send_us"] for r in rounds),
            "worker_ratio": statistics.median(
                r[mode]["worker_us"] / r["none"]["worker_us"] for r in rounds
            ),
            "send_ratio": statistics.median(
                r[mode]["send_us"] / r["none"]["send_us"] for r in rounds
            ),
        }
    return summary


def _print_table(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    print(f"Taskiq, {args.tasks} tasks per mode, median of {args.rounds} rounds (CPU time)")
    print(f"{'mode':<15}{'worker us/task':>16}{'x none':>9}{'send us/task':>15}{'x none':>9}")
    for mode, row in summary.items():
        print(
            f"{mode:<15}{row['worker_us']:>16.1f}{row['worker_ratio']:>9.2f}"
            f"{row['send_us']:>15.1f}{row['send_ratio']:>9.2f}"
        )
    ours, otel = summary["ctxcarry"], summary["otel"]
    print(
        f"ctxcarry / otel: worker {ours['worker_us'] / otel['worker_us']:.2f}, "
        f"send {ours['send_us'] / otel['send_us']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", choices=(*MODES, "micro"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "micro":
        print(json.dumps(run_micro(MICRO_LOOPS)))
        return
    if args.child:
        print(json.dumps(run_one(args.child, args.tasks)))
        return
    rounds = []
    for index in range(args.rounds):
        order = list(itertools.islice(itertools.cycle(MODES), index, index + len(MODES)))
        rounds.append({mode: _run_in_child(mode, args) for mode in order})
    summary = _summary(rounds)
    micro = _run_in_child("micro", args)
    if args.json:
        result = {"tasks": args.tasks, "rounds": rounds, "summary": summary, "micro": micro}
        print(json.dumps(result, indent=2))
        return
    _print_table(summary, args)
    print(f"adapter hooks alone, tight loop ({MICRO_LOOPS} calls, CPU us per call):")
    for name, value in micro.items():
        print(f"  {name:<28}{value:>8.1f}")


if __name__ == "__main__":
    main()
