"""Worst-case decode: hostile carriers against ``json.loads`` of their own text.

A worker receives a carrier it cannot trust. Whatever a producer sends, reading
it must cost at most a small multiple of parsing its JSON text, which the
transport does anyway. Each carrier below is built to hit one expensive path
(wide and deep values, many keys, escapes, huge integers, many baggage
members, trace fields at their size limits); the ordinary carrier ``inject``
writes is the reference. For each, in the same run:

* ``json.loads`` of the carrier's JSON text (the baseline);
* ``Carrier().decode(carrier)`` of the parsed carrier;
* ``with extract(carrier): pass`` (decode, restore, exact undo).

Reported: median milliseconds per call over interleaved rounds and the ratios
to ``json.loads``. The carriers are fixed data, so the same command gives the
figures before and after a change to the core.

    python benchmarks/bench_hostile.py [--rounds 5] [--target-ms 40] [--only NAME,...] [--json]
"""

from __future__ import annotations

import argparse
import contextvars
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import _callgrind
import _timing

import ctxcarry
from ctxcarry import Carrier, QueueVar

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
VARS = {"hostile_tenant": "acme", "hostile_org": 56, "hostile_region": "eu-west-1"}
queue_vars = {name: QueueVar(name, default=None) for name in VARS}


def _envelope(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"v": 1, "vars": dict(VARS if values is None else values)}


def ordinary() -> dict[str, Any]:
    """What inject writes for a request: 3 QueueVars, 5 structlog keys, a traceparent."""
    return {
        "traceparent": TRACEPARENT,
        "structlog_context": {
            "request_id": "5f0c6a1e-8d3b-4a59-9a53-0b8f4c2d7e11",
            "user_id": 1234,
            "organisation_id": 56,
            "path": "/api/v1/projects/",
            "method": "POST",
        },
        "ctxcarry": _envelope(),
    }


def wide_lists() -> dict[str, Any]:
    """Issue 10 item 7: 64 structlog values, each a list of 10,900 zeros (1.4 MB)."""
    return {
        "structlog_context": {f"key_{i}": [0] * 10_900 for i in range(64)},
        "ctxcarry": _envelope(),
    }


def wide_objects() -> dict[str, Any]:
    """64 structlog values, each an object of 2,000 short keys."""
    return {
        "structlog_context": {f"key_{i}": {f"k{j}": j for j in range(2_000)} for i in range(64)}
    }


def deep_nesting() -> dict[str, Any]:
    """64 values nested 31 levels (the deepest allowed) with two branches at the bottom levels,
    and one nested 900 levels (refused)."""

    def nest(depth: int, leaf: Any) -> Any:
        value = leaf
        for _ in range(depth):
            value = [value]
        return value

    log = {f"key_{i}": nest(24, [[[[[[[0, 1]] * 2] * 2] * 2] * 2] * 2] * 2) for i in range(63)}
    log["too_deep"] = nest(900, 0)
    return {"structlog_context": log}


def many_keys() -> dict[str, Any]:
    """100,000 structlog keys, 100,000 QueueVar names and 10,000 unknown top-level keys."""
    carrier: dict[str, Any] = {f"x-extra-{i}": "1" for i in range(10_000)}
    carrier["structlog_context"] = {f"key_{i}": i for i in range(100_000)}
    carrier["ctxcarry"] = _envelope({f"var_{i}": i for i in range(100_000)})
    return carrier


def invalid_names() -> dict[str, Any]:
    """64 structlog names of 10,000 characters each, none a valid key name."""
    return {"structlog_context": {"{" * 10_000 + str(i): "value" for i in range(64)}}


def escapes() -> dict[str, Any]:
    """64 strings of 20,000 characters that all escape in JSON (quotes, controls, U+2028)."""
    text = ('"\\\x01\u2028' * 5_000)[:20_000]
    return {"structlog_context": {f"key_{i}": text for i in range(64)}}


def long_strings() -> dict[str, Any]:
    """64 plain strings of 30,000 characters: 1.9 MB, 60 times the default budget."""
    return {"structlog_context": {f"key_{i}": "a" * 30_000 for i in range(64)}}


def huge_ints() -> dict[str, Any]:
    """64 lists of 50 integers of 4,000 digits (below Python's 4,300-digit parsing limit)."""
    big = int("9" * 4_000)
    return {
        "structlog_context": {f"key_{i}": [big] * 50 for i in range(64)},
        "ctxcarry": _envelope({**VARS, "hostile_org": big}),
    }


def many_baggage_members() -> dict[str, Any]:
    """A baggage of 8,190 characters in 2,047 members, and a 32-member tracestate."""
    baggage = ",".join(f"k{i % 10}=v" for i in range(2_047))[:8_190]
    tracestate = ",".join(f"vendor{i}=" + "x" * 100 for i in range(32))[:4_096]
    return {"traceparent": TRACEPARENT, "tracestate": tracestate, "baggage": baggage}


def max_trace_fields() -> dict[str, Any]:
    """Every trace field at its size limit, with a traceparent of a future version."""
    traceparent = ("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-" + "a" * 512)[:512]
    return {
        "traceparent": traceparent,
        "tracestate": ("k=" + "v" * 4_094),
        "baggage": "key=" + "%41" * 2_729,
        "structlog_context": ordinary()["structlog_context"],
    }


CARRIERS: dict[str, Callable[[], dict[str, Any]]] = {
    "ordinary": ordinary,
    "wide_lists": wide_lists,
    "wide_objects": wide_objects,
    "deep_nesting": deep_nesting,
    "many_keys": many_keys,
    "invalid_names": invalid_names,
    "escapes": escapes,
    "long_strings": long_strings,
    "huge_ints": huge_ints,
    "many_baggage_members": many_baggage_members,
    "max_trace_fields": max_trace_fields,
}


def _calls_for(fn: Callable[[], object], target_s: float) -> int:
    """How many calls of ``fn`` take about ``target_s``: at least one."""
    started = time.perf_counter()
    fn()
    once = time.perf_counter() - started
    return max(1, int(target_s / max(once, 1e-7)))


def measure_one(name: str, rounds: int, target_s: float) -> dict[str, Any]:
    """Time json.loads, decode and an extract block on one carrier, interleaved."""
    candidates = _operations(json.dumps(CARRIERS[name](), separators=(",", ":")))
    # Each candidate gets its own number of calls per round (about target_s),
    # so a 1 ms carrier and a 600 ms one both get a meaningful sample.
    loops = {label: _calls_for(fn, target_s) for label, fn in candidates.items()}
    samples: dict[str, list[float]] = {label: [] for label in candidates}
    for number in range(rounds):
        for label in _timing.rotated(list(candidates), number):
            samples[label].append(_timing.per_call_us(candidates[label], loops[label]))
    base = samples["json.loads"]
    return {
        "json_ms": _timing.median(base) / 1e3,
        "decode_ms": _timing.median(samples["decode"]) / 1e3,
        "extract_ms": _timing.median(samples["extract"]) / 1e3,
        "decode_ratio": _timing.median_ratio(samples["decode"], base),
        "extract_ratio": _timing.median_ratio(samples["extract"], base),
    }


OPERATIONS = ("json.loads", "decode", "extract")


def _operations(text: str) -> dict[str, Callable[[], object]]:
    """The baseline and the two core operations on one carrier's JSON text."""
    carrier = json.loads(text)
    decoder = Carrier()

    def extract_block() -> None:
        with ctxcarry.extract(carrier):
            pass

    return {
        "json.loads": lambda: json.loads(text),
        "decode": lambda: decoder.decode(carrier),
        "extract": extract_block,
    }


def run_child(operation: str, calls: int) -> None:
    """Perform one carrier's operation ``calls`` times (under callgrind).

    No warm-up: the runs of n and 2n calls differ only by n calls made after
    the first, so the difference is of warm calls anyway.
    """
    name, label = operation.split(":")
    fn = _operations(json.dumps(CARRIERS[name](), separators=(",", ":")))[label]
    gc.freeze()  # a full collection scans only what the calls allocate (see bench_core)
    for _ in range(calls):
        fn()


def measure_instructions(names: list[str], budget: int) -> dict[str, dict[str, Any]]:
    """Instructions per call of each operation on each carrier, and the ratios to json.loads.

    Calls per run scale down with the carrier's size (``budget`` bytes of JSON
    in all), from 150 for an ordinary carrier to 1 for anything over 25 KB.
    """
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        size = len(json.dumps(CARRIERS[name](), separators=(",", ":")))
        calls = max(1, min(2000, budget // size))

        def command(operation: str) -> Callable[[int], list[str]]:
            return lambda n: [sys.executable, __file__, "--child", operation, "--calls", str(n)]

        counts = _callgrind.instructions_per_call(
            {label: command(f"{name}:{label}") for label in OPERATIONS}, calls
        )
        base = counts["json.loads"].per_call
        results[name] = {
            "calls": calls,
            "json_instr": base,
            "decode_instr": counts["decode"].per_call,
            "extract_instr": counts["extract"].per_call,
            "decode_instr_ratio": counts["decode"].per_call / base,
            "extract_instr_ratio": counts["extract"].per_call / base,
        }
    return results


def render(result: Mapping[str, Any]) -> str:
    lines = []
    carriers = result["carriers"]
    if "wall" in next(iter(carriers.values())):
        rows = [{"carrier": name, **row, **row["wall"]} for name, row in carriers.items()]
        lines += [
            "Wall clock: decode and `with extract(carrier): pass` against json.loads of the "
            f"carrier's text (medians of {result['rounds']} interleaved rounds; ratios are "
            "medians of per-round ratios)",
            _timing.table(
                rows,
                [
                    ("carrier", "carrier", "s"),
                    ("bytes", "JSON bytes", ",d"),
                    ("dropped", "dropped", "d"),
                    ("json_ms", "json.loads ms", ".3f"),
                    ("decode_ms", "decode ms", ".3f"),
                    ("decode_ratio", "x json", ".2f"),
                    ("extract_ms", "extract ms", ".3f"),
                    ("extract_ratio", "x json", ".2f"),
                ],
            ),
        ]
    if "instructions" in next(iter(carriers.values())):
        rows = [{"carrier": name, **row, **row["instructions"]} for name, row in carriers.items()]
        lines += [
            "Instructions per call (callgrind; runs of n and 2n calls, difference / n):",
            _timing.table(
                rows,
                [
                    ("carrier", "carrier", "s"),
                    ("bytes", "JSON bytes", ",d"),
                    ("calls", "n", "d"),
                    ("json_instr", "json.loads", ",.0f"),
                    ("decode_instr", "decode", ",.0f"),
                    ("decode_instr_ratio", "x json", ".2f"),
                    ("extract_instr", "extract", ",.0f"),
                    ("extract_instr_ratio", "x json", ".2f"),
                ],
            ),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--target-ms", type=float, default=40.0, help="time per candidate per round (40)"
    )
    parser.add_argument("--only", help="comma-separated carrier names: " + ", ".join(CARRIERS))
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions with callgrind"
    )
    parser.add_argument(
        "--no-wall", action="store_true", help="with --instructions: skip the wall-clock timing"
    )
    parser.add_argument(
        "--budget", type=int, default=50_000, help="callgrind: bytes of JSON decoded per run"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # Warnings are part of the cost (one per extract), but not on the terminal.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    logging.basicConfig(stream=devnull, level=logging.WARNING, force=True)
    if args.child:
        contextvars.Context().run(run_child, args.child, args.calls)
        return 0
    names = args.only.split(",") if args.only else list(CARRIERS)
    unknown = sorted(set(names) - set(CARRIERS))
    if unknown:
        parser.error(f"unknown carrier(s): {', '.join(unknown)}")
    env = _timing.environment()
    carriers: dict[str, dict[str, Any]] = {}
    for name in names:
        text = json.dumps(CARRIERS[name](), separators=(",", ":"))
        carriers[name] = {
            "bytes": len(text.encode()),
            "dropped": len(Carrier().decode(json.loads(text)).dropped),
        }
        if not args.no_wall:
            carriers[name]["wall"] = contextvars.Context().run(
                measure_one, name, args.rounds, args.target_ms / 1e3
            )
    if args.instructions:
        for name, counted in measure_instructions(names, args.budget).items():
            carriers[name]["instructions"] = counted
    result = {"rounds": args.rounds, "carriers": carriers}
    result["environment"] = _timing.finish_environment(env)
    _timing.emit(result, args.json, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
