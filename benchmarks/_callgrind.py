"""Instruction counts per call, with valgrind's callgrind: a figure machine load cannot move.

Wall-clock ratios on a shared machine move with whatever else runs. The number
of instructions the CPU executes for one call does not: it depends only on the
code and its input. :func:`instructions_per_call` runs a command that performs
an operation ``n`` times under callgrind, then the same command with ``2n``,
and divides the difference by ``n``: interpreter start-up, imports, set-up and
warm-up are the same in both runs and cancel out, whatever they cost.

Repeatable by construction: both runs get ``PYTHONHASHSEED=0`` (string hashes,
hence dict and set layouts, are the same in every run) and, where ``setarch``
exists, address-space randomisation is turned off (ContextVar hashes and so
the context's HAMT layout derive from object addresses). Some variation
remains (on CPython 3.11, about 0.1 to 0.7% per count between two runs of the
same command, from the interpreter's own start-up and allocation): ratios
repeat to within about 0.01.
An instruction is not a nanosecond -- cache misses and branch mispredictions
are not counted -- so the counts complement the wall-clock ratios, they do not
replace them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

__all__ = ["Count", "available", "instructions", "instructions_per_call", "version"]

_TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def available() -> bool:
    """True when ``valgrind`` is on the PATH."""
    return shutil.which("valgrind") is not None


def version() -> str:
    """``valgrind --version``, e.g. ``valgrind-3.19.0``."""
    return subprocess.run(
        ["valgrind", "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()


def instructions(command: Sequence[str]) -> int:
    """Instructions executed by ``command`` (and its start-up) under callgrind."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    prefix = ["setarch", "-R"] if shutil.which("setarch") else []
    with tempfile.TemporaryDirectory(prefix="ctxcarry-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(
            [
                *prefix,
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                *command,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if run.returncode != 0:
            failed = f"callgrind run failed ({run.returncode}): {' '.join(command)}"
            raise RuntimeError(f"{failed}\n{run.stderr[-2000:]}")
        with open(out, encoding="utf-8") as profile:
            match = _TOTALS.search(profile.read())
    if match is None:
        raise RuntimeError(f"no instruction total in callgrind's output for {command}")
    return int(match.group(1))


@dataclass(frozen=True)
class Count:
    """Instructions per call, from runs of ``calls`` and ``2 * calls`` calls."""

    calls: int
    total_n: int
    total_2n: int

    @property
    def per_call(self) -> float:
        return (self.total_2n - self.total_n) / self.calls


def instructions_per_call(
    operations: Mapping[str, Callable[[int], Sequence[str]]], calls: int, *, parallel: int = 2
) -> dict[str, Count]:
    """Instructions per call of each operation; ``command_for(n)`` performs it ``n`` times.

    Every operation needs two callgrind runs (``calls`` and ``2 * calls``); they
    run ``parallel`` at a time: load does not change an instruction count, only
    how long it takes to get it.
    """
    commands = [command_for(n) for command_for in operations.values() for n in (calls, 2 * calls)]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        totals = list(pool.map(instructions, commands))
    return {
        name: Count(calls, totals[2 * index], totals[2 * index + 1])
        for index, name in enumerate(operations)
    }
