"""Core benchmark: inject() and a full extract block against the hand-written minimum.

Setup: 3 QueueVars set, 5 structlog keys bound, one recording span. The
hand-written minimum does the same work with no checks at all:

* inject: three ContextVar gets + ``get_contextvars()`` + ``propagate.inject`` into a dict;
* extract: three ContextVar sets + ``bind_contextvars`` + ``attach(propagate.extract(...))``,
  then ``detach`` + ``reset_contextvars`` + three resets.

Wall clock (default): rounds interleave baseline and ctxcarry so machine noise
hits both alike; figures are medians over rounds, ratios compare them within
this run. ``--instructions`` adds instruction counts per call from valgrind's
callgrind (see ``_callgrind.py``), which load cannot move. The garbage
collector stays enabled with the set-up's objects frozen (``gc.freeze()``):
the figures include collecting what the calls allocate, not scanning the
rest of the process's heap, whose size has nothing to do with ctxcarry.

    python benchmarks/bench_core.py [--rounds 30] [--loops 2000] [--json]
    python benchmarks/bench_core.py --instructions [--calls 5000]
    python benchmarks/bench_core.py --pieces [--calls 2000]

``--pieces`` counts, with callgrind only, what each part of extract costs:
decode alone, extract with one kind of context carried at a time, and
OpenTelemetry's ``propagate.extract`` of the same trace fields (public API
only, so the same command measures any version of the core).
"""

from __future__ import annotations

import argparse
import contextvars
import gc
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import _callgrind
import _timing
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
GOALS = {"inject": 1.25, "extract": 1.5}
#: Calls made before any timed or counted call (caches, specialisation, allocators).
WARMUP = 500

queue_vars = {name: QueueVar(name, default=None) for name in VAR_VALUES}
plain_vars = {name: contextvars.ContextVar(f"plain_{name}", default=None) for name in VAR_VALUES}

Pair = tuple[Callable[[], object], Callable[[], object]]


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


@contextmanager
def bound_context() -> Iterator[tuple[dict[str, Pair], dict[str, Any]]]:
    """Bind the scenario in the current context; yield the operation pairs and the carrier.

    Run it inside a fresh ``contextvars.Context`` so nothing else is bound.
    """
    trace.set_tracer_provider(TracerProvider())  # recording spans, no exporter
    tracer = trace.get_tracer("bench")
    structlog.contextvars.bind_contextvars(**LOG_KEYS)
    tokens = [(queue_vars[n], queue_vars[n].set(v)) for n, v in VAR_VALUES.items()]
    plain_tokens = [(plain_vars[n], plain_vars[n].set(v)) for n, v in VAR_VALUES.items()]
    with tracer.start_as_current_span("request") as span:
        assert span.is_recording()
        carrier = ctxcarry.inject()
        wire = json.dumps(carrier, separators=(",", ":"))
        received = json.loads(wire)  # what a worker really receives
        pairs: dict[str, Pair] = {
            "inject": (hand_inject, ctxcarry.inject),
            "extract": (
                lambda: hand_extract_block(received),
                lambda: ours_extract_block(received),
            ),
        }
        # Everything allocated so far (imports, set-up) leaves the collector's
        # generations: a full collection then scans only what the calls
        # allocate, not the whole heap of whatever process this is.
        gc.freeze()
        yield pairs, received
        gc.unfreeze()
    for queue_var, token in reversed(tokens):
        queue_var.reset(token)
    for plain_var, plain_token in reversed(plain_tokens):
        plain_var.reset(plain_token)
    structlog.contextvars.clear_contextvars()


# ---------------------------------------------------------------- wall clock


def measure_wall(rounds: int, loops: int) -> dict[str, Any]:
    """Medians of interleaved rounds, and each ctxcarry/baseline ratio."""
    result: dict[str, Any] = {}
    with bound_context() as (pairs, received):
        carrier_bytes = len(json.dumps(received, separators=(",", ":")))
        candidates = {
            f"{name}:{side}": fn
            for name, pair in pairs.items()
            for side, fn in zip(("baseline", "ctxcarry"), pair, strict=True)
        }
        samples = _timing.interleaved(candidates, rounds=rounds, loops=loops, warmup=WARMUP)
    result["carrier_bytes"] = carrier_bytes
    for name in pairs:
        base, ours = samples[f"{name}:baseline"], samples[f"{name}:ctxcarry"]
        result[name] = {
            "baseline_us": _timing.median(base),
            "ctxcarry_us": _timing.median(ours),
            "ratio": _timing.median(ours) / _timing.median(base),
            "paired_ratio": _timing.median_ratio(ours, base),
        }
    return result


# ---------------------------------------------------------------- instructions


def extract_pieces(received: dict[str, Any]) -> dict[str, Callable[[], object]]:
    """The parts of extract, each a call to count (see ``--pieces``)."""
    trace_headers = {
        k: v for k, v in received.items() if k in propagate.get_global_textmap().fields
    }

    def extract_with(queuevars: bool, log: bool, trace: bool) -> Callable[[], object]:
        carrier = ctxcarry.Carrier(
            carry_queuevars=queuevars, carry_structlog=log, carry_trace=trace
        )

        def block() -> None:
            with carrier.extract(received):
                pass

        return block

    return {
        "hand-written minimum": lambda: hand_extract_block(received),
        "extract": lambda: ours_extract_block(received),
        "decode alone": lambda: ctxcarry.get_default_carrier().decode(received),
        "extract, nothing carried": extract_with(False, False, False),
        "extract, QueueVars only": extract_with(True, False, False),
        "extract, structlog only": extract_with(False, True, False),
        "extract, trace only": extract_with(False, False, True),
        "propagate.extract of the trace fields": lambda: propagate.extract(trace_headers),
    }


def run_child(operation: str, calls: int) -> None:
    """Perform one operation ``calls`` times after a fixed warm-up (under callgrind)."""
    name, side = operation.split(":")
    with bound_context() as (pairs, received):
        if name == "piece":
            fn = extract_pieces(received)[side]
        else:
            fn = pairs[name][0 if side == "baseline" else 1]
        for _ in range(WARMUP):
            fn()
        for _ in range(calls):
            fn()


def measure_instructions(calls: int) -> dict[str, Any]:
    """Instructions per call of each operation and side, and the ctxcarry/baseline ratios."""

    def command(operation: str) -> Callable[[int], list[str]]:
        return lambda n: [sys.executable, __file__, "--child", operation, "--calls", str(n)]

    operations = {f"{n}:{s}": command(f"{n}:{s}") for n in GOALS for s in ("baseline", "ctxcarry")}
    counts = _callgrind.instructions_per_call(operations, calls)
    result: dict[str, Any] = {"valgrind": _callgrind.version(), "calls": calls}
    for name in GOALS:
        base = counts[f"{name}:baseline"].per_call
        ours = counts[f"{name}:ctxcarry"].per_call
        result[name] = {"baseline": base, "ctxcarry": ours, "ratio": ours / base}
    return result


def measure_pieces(calls: int) -> dict[str, Any]:
    """Instructions per call of each part of extract (callgrind only)."""

    def command(piece: str) -> Callable[[int], list[str]]:
        return lambda n: [sys.executable, __file__, "--child", f"piece:{piece}", "--calls", str(n)]

    names = list(contextvars.Context().run(_piece_names))
    counts = _callgrind.instructions_per_call({name: command(name) for name in names}, calls)
    return {
        "valgrind": _callgrind.version(),
        "calls": calls,
        "pieces": {name: counts[name].per_call for name in names},
    }


def _piece_names() -> list[str]:
    with bound_context() as (_, received):
        return list(extract_pieces(received))


def render_pieces(result: Mapping[str, Any]) -> str:
    pieces = result["pieces"]
    whole = pieces["extract"]
    rows = [
        {"piece": name, "instr": count, "share": count / whole} for name, count in pieces.items()
    ]
    columns: list[_timing.Column] = [
        ("piece", "piece", "s"),
        ("instr", "instructions", ",.0f"),
        ("share", "of extract", ".2f"),
    ]
    return "\n".join(
        [
            _timing.table(rows, columns),
            f"instructions: callgrind ({result['valgrind']}), runs of {result['calls']} and "
            f"{2 * result['calls']} calls, difference per call",
        ]
    )


# ---------------------------------------------------------------- report


def render(result: Mapping[str, Any]) -> str:
    wall = result["wall"]
    lines = [
        f"carrier {wall['carrier_bytes']} bytes of JSON; goals: inject <= 1.25x, extract <= 1.5x"
    ]
    rows = []
    for name, goal in GOALS.items():
        row = {
            "operation": name,
            "base_us": wall[name]["baseline_us"],
            "ours_us": wall[name]["ctxcarry_us"],
            "wall": wall[name]["ratio"],
            "wall_ok": "ok" if wall[name]["ratio"] <= goal else "MISSED",
        }
        if "instructions" in result:
            counted = result["instructions"][name]
            row.update(
                base_i=counted["baseline"],
                ours_i=counted["ctxcarry"],
                instr=counted["ratio"],
                instr_ok="ok" if counted["ratio"] <= goal else "MISSED",
            )
        rows.append(row)
    columns: list[_timing.Column] = [
        ("operation", "operation", "s"),
        ("base_us", "baseline us", ".2f"),
        ("ours_us", "ctxcarry us", ".2f"),
        ("wall", "wall ratio", ".2f"),
        ("wall_ok", "", "s"),
    ]
    if "instructions" in result:
        columns += [
            ("base_i", "baseline instr", ",.0f"),
            ("ours_i", "ctxcarry instr", ",.0f"),
            ("instr", "instr ratio", ".3f"),
            ("instr_ok", "", "s"),
        ]
    lines.append(_timing.table(rows, columns))
    lines.append(
        f"wall clock: medians of {result['rounds']} interleaved rounds of {result['loops']} calls"
    )
    if "instructions" in result:
        counted = result["instructions"]
        lines.append(
            f"instructions: callgrind ({counted['valgrind']}), runs of {counted['calls']} and "
            f"{2 * counted['calls']} calls, difference per call"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    _timing.add_common_arguments(parser, rounds=30, loops=2000)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions with callgrind"
    )
    parser.add_argument("--calls", type=int, default=5000, help="callgrind: calls per run")
    parser.add_argument(
        "--pieces", action="store_true", help="only count what each part of extract costs"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        contextvars.Context().run(run_child, args.child, args.calls)
        return 0
    if args.pieces:
        env = _timing.environment()
        pieces = measure_pieces(args.calls)
        pieces["environment"] = _timing.finish_environment(env)
        _timing.emit(pieces, args.json, render_pieces)
        return 0
    env = _timing.environment()
    result: dict[str, Any] = {"rounds": args.rounds, "loops": args.loops}
    result["wall"] = contextvars.Context().run(measure_wall, args.rounds, args.loops)
    if args.instructions:
        result["instructions"] = measure_instructions(args.calls)
    result["environment"] = _timing.finish_environment(env)
    _timing.emit(result, args.json, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
