"""Core benchmark: inject() and a full extract block against the hand-written minimum.

Setup (the issue's): 3 QueueVars set, 5 structlog keys bound, one recording span.
The hand-written minimum does the same work with no checks at all:

* inject: three ContextVar gets + ``get_contextvars()`` + ``propagate.inject`` into a dict;
* extract: three ContextVar sets + ``bind_contextvars`` + ``attach(propagate.extract(...))``,
  then ``detach`` + ``reset_contextvars`` + three resets.

Rounds interleave baseline and ctxcarry so machine noise hits both alike; the
figures are medians over rounds and the ratios compare them within this run.

    python benchmarks/bench_core.py [--rounds 30] [--loops 2000] [--json]
"""

from __future__ import annotations

import argparse
import contextvars
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

import ctxcarry
from ctxcarry import QueueVar

LOG_KEYS = {
    "request_id": "5f0c6a1e-8d3b-4a59-9a53-0b8f4c2d7e11",
    "user_id": 1234,
    "organisation_id": 56,
    "path": "/api/v1/projects/",
    "method": "POST",
}
VAR_VALUES = {"bench_tenant": "acme", "bench_org": 56, "bench_region": "eu-west-1"}

queue_vars = {name: QueueVar(name, default=None) for name in VAR_VALUES}
plain_vars = {name: contextvars.ContextVar(f"plain_{name}", default=None) for name in VAR_VALUES}


def hand_inject() -> dict[str, Any]:
    carrier: dict[str, Any] = {}
    propagate.inject(carrier)
    carrier["structlog_context"] = structlog.contextvars.get_contextvars()
    carrier["ctxcarry"] = {"v": 1, "vars": {n: v.get() for n, v in plain_vars.items()}}
    return carrier


def hand_extract_block(carrier: dict[str, Any]) -> None:
    values = carrier["ctxcarry"]["vars"]
    var_tokens = [(var, var.set(values[name])) for name, var in plain_vars.items()]
    log_tokens = structlog.contextvars.bind_contextvars(**carrier["structlog_context"])
    otel_token = otel_context.attach(propagate.extract(carrier))
    # ... the task would run here ...
    otel_context.detach(otel_token)
    structlog.contextvars.reset_contextvars(**log_tokens)
    for var, token in reversed(var_tokens):
        var.reset(token)


def ours_extract_block(carrier: dict[str, Any]) -> None:
    with ctxcarry.extract(carrier):
        pass


def per_call_us(fn: Callable[[], object], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / loops * 1e6


def measure(rounds: int, loops: int) -> dict[str, Any]:
    carrier = ctxcarry.inject()
    json_carrier = json.loads(json.dumps(carrier))  # what a worker really receives
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "inject": (hand_inject, ctxcarry.inject),
        "extract": (
            lambda: hand_extract_block(json_carrier),
            lambda: ours_extract_block(json_carrier),
        ),
    }
    samples: dict[str, dict[str, list[float]]] = {
        k: {"baseline": [], "ctxcarry": []} for k in pairs
    }
    for fn_pair in pairs.values():  # warm up caches and allocators
        for fn in fn_pair:
            per_call_us(fn, loops // 4 or 1)
    for _ in range(rounds):
        for name, (baseline, ours) in pairs.items():
            samples[name]["baseline"].append(per_call_us(baseline, loops))
            samples[name]["ctxcarry"].append(per_call_us(ours, loops))
    result: dict[str, Any] = {"carrier_bytes": len(json.dumps(carrier, separators=(",", ":")))}
    for name, series in samples.items():
        base = statistics.median(series["baseline"])
        ours_us = statistics.median(series["ctxcarry"])
        result[name] = {"baseline_us": base, "ctxcarry_us": ours_us, "ratio": ours_us / base}
    return result


def run(rounds: int, loops: int) -> dict[str, Any]:
    provider = TracerProvider()  # recording spans, no exporter: we time propagation only
    tracer = provider.get_tracer("bench")
    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    tokens = [queue_vars[n].set(v) for n, v in VAR_VALUES.items()]
    plain_tokens = [plain_vars[n].set(v) for n, v in VAR_VALUES.items()]
    with tracer.start_as_current_span("request") as span:
        assert span.is_recording()
        result = measure(rounds, loops)
    for (name, _), token in zip(VAR_VALUES.items(), tokens, strict=True):
        queue_vars[name].reset(token)
    for (name, _), token in zip(VAR_VALUES.items(), plain_tokens, strict=True):
        plain_vars[name].reset(token)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--loops", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    trace.set_tracer_provider(TracerProvider())
    result = contextvars.Context().run(run, args.rounds, args.loops)
    result["python"] = platform.python_version()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    goals = {"inject": 1.25, "extract": 1.5}
    print(f"Python {result['python']}, carrier {result['carrier_bytes']} bytes of JSON")
    print(f"{'operation':<10} {'baseline us':>12} {'ctxcarry us':>12} {'ratio':>7} {'goal':>6}")
    for name, goal in goals.items():
        row = result[name]
        verdict = "ok" if row["ratio"] <= goal else "MISSED"
        print(
            f"{name:<10} {row['baseline_us']:>12.2f} {row['ctxcarry_us']:>12.2f} "
            f"{row['ratio']:>7.2f} {goal:>5.2f}x {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
