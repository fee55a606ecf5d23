"""Wall-clock timing shared by every benchmark: interleaved rounds, medians, ratios, reports.

Every benchmark compares candidates against a baseline measured in the same
run. Rounds interleave the candidates (the order rotates from round to round),
so that machine noise -- other processes, frequency changes, a broker's
hiccup -- hits all of them alike; figures are medians over rounds, and a ratio
is either the ratio of the medians or the median of each round's ratio.

The environment line (Python, CPU, load average at the start and the end of
the run) goes with every figure: a ratio taken under load is not a ratio taken
on a quiet machine, and the report must say which it is.

Scripts import this module as ``_timing``: they run as ``python
benchmarks/<script>.py``, which puts this directory first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "Column",
    "add_common_arguments",
    "cpu_us",
    "emit",
    "environment",
    "environment_line",
    "finish_environment",
    "interleaved",
    "median",
    "median_ratio",
    "per_call_us",
    "rotated",
    "summarize",
    "table",
]

Clock = Callable[[], float]
#: ``(key, header, format spec)`` of one table column.
Column = tuple[str, str, str]


# ---------------------------------------------------------------- measuring


def per_call_us(fn: Callable[[], object], loops: int, clock: Clock = time.perf_counter) -> float:
    """Microseconds per call of ``fn`` over ``loops`` calls, by ``clock``.

    ``time.perf_counter`` (the default) is wall clock; pass ``time.process_time``
    for this process's CPU time, which other processes on a shared machine
    disturb less (it still counts the interpreter's own threads).
    """
    start = clock()
    for _ in range(loops):
        fn()
    return (clock() - start) / loops * 1e6


def cpu_us(fn: Callable[[], object], loops: int) -> float:
    """CPU microseconds of this process per call of ``fn`` (see :func:`per_call_us`)."""
    return per_call_us(fn, loops, time.process_time)


def rotated(labels: Sequence[str], round_number: int) -> list[str]:
    """The order of ``labels`` for a round: rotated by one each round, so none is always first."""
    if not labels:
        return []
    shift = round_number % len(labels)
    return [*labels[shift:], *labels[:shift]]


def interleaved(
    candidates: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    loops: int,
    clock: Clock = time.perf_counter,
    warmup: int | None = None,
) -> dict[str, list[float]]:
    """Microseconds per call of each candidate, one sample per round, rounds interleaved.

    Each candidate first runs ``warmup`` calls (default ``loops // 4``) to warm
    caches, allocators and the interpreter's specialisation.
    """
    labels = list(candidates)
    for fn in candidates.values():
        per_call_us(fn, max(1, loops // 4) if warmup is None else warmup, clock)
    samples: dict[str, list[float]] = {label: [] for label in labels}
    for number in range(rounds):
        for label in rotated(labels, number):
            samples[label].append(per_call_us(candidates[label], loops, clock))
    return samples


# ---------------------------------------------------------------- summarising


def median(values: Iterable[float]) -> float:
    """The median (``statistics.median``), for symmetry with :func:`median_ratio`."""
    return statistics.median(values)


def median_ratio(values: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of the per-round ratios ``values[i] / baseline[i]``."""
    return statistics.median(v / b for v, b in zip(values, baseline, strict=True))


def summarize(samples: Mapping[str, Sequence[float]], baseline: str) -> dict[str, dict[str, float]]:
    """Per candidate: median, ratio of medians to ``baseline``, median paired ratio, extra us."""
    base = statistics.median(samples[baseline])
    summary: dict[str, dict[str, float]] = {}
    for label, values in samples.items():
        value = statistics.median(values)
        summary[label] = {
            "median_us": value,
            "ratio": value / base,
            "paired_ratio": median_ratio(values, samples[baseline]),
            "extra_us": value - base,
        }
    return summary


# ---------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> list[float]:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:  # not available on this platform
        return []


def environment() -> dict[str, Any]:
    """Where and when the figures were taken; call at the start of a run."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_start": _load(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def finish_environment(env: dict[str, Any]) -> dict[str, Any]:
    """Add the load average at the end of the run to ``env`` (and return it)."""
    env["load_end"] = _load()
    return env


def environment_line(env: Mapping[str, Any]) -> str:
    """One line for a report: Python, CPU, and the load average (1, 5, 15 min)."""

    def load(key: str) -> str:
        values = env.get(key) or []
        return " ".join(f"{value:.2f}" for value in values) or "n/a"

    line = (
        f"{env['implementation']} {env['python']}, {env['cpus']} x {env['cpu']}; "
        f"load average {load('load_start')} at start"
    )
    if "load_end" in env:
        line += f", {load('load_end')} at end"
    return line


# ---------------------------------------------------------------- reporting


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], indent: str = "") -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [
        [format(row[key], spec) if row.get(key) is not None else "" for key, _, spec in columns]
        for row in rows
    ]
    headers = [header for _, header, _ in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = []
    for line in [headers, *cells]:
        parts = [line[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        lines.append(indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def add_common_arguments(parser: argparse.ArgumentParser, *, rounds: int, loops: int) -> None:
    """``--rounds``, ``--loops`` and ``--json``, with this benchmark's defaults."""
    parser.add_argument("--rounds", type=int, default=rounds, help=f"default {rounds}")
    parser.add_argument("--loops", type=int, default=loops, help=f"calls per round ({loops})")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def emit(
    result: Mapping[str, Any], as_json: bool, render: Callable[[Mapping[str, Any]], str]
) -> None:
    """Print ``result`` as JSON, or as ``render(result)`` followed by the environment line."""
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(render(result))
    if "environment" in result:
        print(environment_line(result["environment"]))
    sys.stdout.flush()
