"""Every benchmark behind docs/performance.md, one after the other, each in a fresh process.

    python benchmarks/run_all.py [--out DIR] [--no-instructions] [--only NAME,...]

Prints each benchmark's report as it finishes and saves its JSON result as
``DIR/<name>.json`` (default ``benchmarks/results/``, ignored by git), each with the environment
line (Python, CPU, load average at start and end). Run it on a quiet machine:
the wall-clock ratios move with load; the instruction counts do not. On a
quiet 2-core machine the wall-clock benchmarks take about 6 minutes; callgrind
adds a few minutes for the core and several for each megabyte-sized hostile
carrier (``--no-instructions`` skips it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import _timing

HERE = os.path.dirname(os.path.abspath(__file__))

#: name -> (script, its arguments, the arguments added for instruction counts)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "core": ("bench_core", [], ["--instructions"]),
    "hostile": ("bench_hostile", [], ["--instructions"]),
    "celery_throughput": ("bench_celery", ["throughput", "--rounds", "7"], []),
    "celery_micro": ("bench_celery", ["micro"], []),
    "celery_profile": ("bench_celery", ["profile"], []),
    "task_processor": ("bench_task_processor", [], []),
    "middleware": ("bench_middleware", [], []),
}


def _renderer(script: str, arguments: list[str]) -> Callable[[Mapping[str, Any]], str]:
    module = importlib.import_module(script)
    if script == "bench_celery":
        part = arguments[0]
        return lambda result: str(module.RENDER[part](result[part]))
    return module.render  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--out", default=os.path.join(HERE, "results"), help="where to save the JSON"
    )
    parser.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    os.makedirs(args.out, exist_ok=True)
    env = _timing.environment()
    print(f"== {_timing.environment_line(env)}", flush=True)
    failed = []
    for name in names:
        script, arguments, counting = BENCHMARKS[name]
        if not args.no_instructions:
            arguments = [*arguments, *counting]
        command = [sys.executable, os.path.join(HERE, f"{script}.py"), *arguments, "--json"]
        print(f"\n== {name}: python benchmarks/{script}.py {' '.join(arguments)}", flush=True)
        started = time.perf_counter()
        run = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if run.returncode != 0:
            failed.append(name)
            print(f"!! {name} failed with exit status {run.returncode}", flush=True)
            continue
        text = run.stdout
        result = json.loads(text[text.rfind("\n{") + 1 :])
        with open(os.path.join(args.out, f"{name}.json"), "w", encoding="utf-8") as saved:
            json.dump(result, saved, indent=2)
        print(_renderer(script, arguments)(result))
        print(_timing.environment_line(result["environment"]))
        print(f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\n== done; {_timing.environment_line(_timing.finish_environment(env))}")
    if failed:
        print(f"!! failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
