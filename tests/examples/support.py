"""Run an example's ``run.py`` and check its output line by line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HEX32 = re.compile(r"[0-9a-f]{32}")

#: Celery's warning about running as root (as CI does), printed by
#: ``celery.platforms`` before the worker has configured logging, so not JSON.
ROOT_WARNING = re.compile(
    r"SecurityWarning: You're running the worker with superuser privileges|"
    r"absolutely not recommended!|Please specify a different user|User information: uid=0|"
    r"_warn_or_raise_security_error\(|^$"
)


@dataclass
class Output:
    """What ``run.py`` printed: each process's JSON lines, and the requests it sent."""

    lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def by_request(self) -> dict[str, dict[str, Any]]:
        return {sent["request_id"]: sent for sent in self.requests}


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """The test's environment without pytest-django's settings module, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return {**env, **extra}


def run_example(script: str, env: dict[str, str], timeout: float = 90) -> Output:
    """Run ``python examples/<script>`` from the repository root; parse what it prints."""
    completed = subprocess.run(
        [sys.executable, str(REPO / "examples" / script)],
        cwd=REPO,
        env=_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = Output()
    for printed in completed.stdout.splitlines():
        name, _, line = printed.partition(" ")
        line = line.strip()
        if name == "request":
            output.requests.append(json.loads(line))
            continue
        try:
            record = json.loads(line)
        except ValueError:
            # The only non-JSON lines allowed: Celery's warning about root.
            assert ROOT_WARNING.search(line), f"{name}: not a JSON line: {line!r}"
            continue
        output.lines.setdefault(name, []).append(record)
    return output


def is_outside_requests(record: dict[str, Any], outside: list[tuple[str, str]]) -> bool:
    """True for a line of ``outside``: ``(logger, regex on the event)`` pairs."""
    return any(
        record.get("logger") == logger and re.search(pattern, str(record.get("event")))
        for logger, pattern in outside
    )


def check_every_line(
    output: Output,
    outside: dict[str, list[tuple[str, str]]],
    queuevars: dict[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """Every JSON line not in ``outside`` carries the context of the request it belongs to.

    ``queuevars`` maps a QueueVar's log key to the key of the sent request that
    holds its expected value. Each line must carry the ``request_id`` of a
    request that was sent, that request's QueueVar values, and a 32-hex
    ``trace_id`` that is the same on every line of that request, in every
    process. Returns the request lines by process.
    """
    sent = output.by_request()
    trace_of: dict[str, str] = {}
    checked: dict[str, list[dict[str, Any]]] = {}
    for process, records in output.lines.items():
        for record in records:
            if is_outside_requests(record, outside.get(process, [])):
                continue
            where = f"{process}: {record}"
            assert record.get("request_id") in sent, f"no request_id of a request: {where}"
            request = sent[record["request_id"]]
            for key, request_key in queuevars.items():
                assert record.get(key) == request[request_key], f"{key} wrong: {where}"
            trace_id = record.get("trace_id")
            assert isinstance(trace_id, str), f"no trace_id: {where}"
            assert HEX32.fullmatch(trace_id), where
            assert trace_of.setdefault(record["request_id"], trace_id) == trace_id, where
            checked.setdefault(process, []).append(record)
    return checked


def events(records: list[dict[str, Any]], request_id: str, logger: str) -> list[str]:
    """The events ``logger`` logged for the request ``request_id``."""
    return [
        str(r["event"])
        for r in records
        if r.get("request_id") == request_id and r.get("logger") == logger
    ]
