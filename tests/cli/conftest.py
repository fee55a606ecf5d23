"""Fixtures for the CLI tests: real carriers, and the command run as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry import trace

import ctxcarry
from tests.cli.carried_vars import cli_account, cli_tenant

REPO = Path(__file__).resolve().parents[2]
#: Redis database for the CLI tests (other areas use others).
REDIS_DB = 13
ACCOUNT = uuid.UUID("12345678-1234-5678-1234-567812345678")


def run_cli(
    *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m ctxcarry ARGS`` in a fresh process, from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "ctxcarry", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def bound_context(tracer: trace.Tracer) -> Iterator[dict[str, Any]]:
    """A request-like context: two QueueVars, two structlog keys, an active span."""
    with (
        tracer.start_as_current_span("cli-test") as span,
        cli_tenant("acme"),
        cli_account(ACCOUNT),
        structlog.contextvars.bound_contextvars(request_id="req-42", user_id=7),
    ):
        context = span.get_span_context()
        yield {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


@pytest.fixture
def trace_context_value(bound_context: dict[str, Any]) -> dict[str, Any]:
    """What the task processor adapter stores in ``Task.trace_context``: the carrier."""
    return json.loads(json.dumps(ctxcarry.inject()))  # type: ignore[no-any-return]


@pytest.fixture
def redis_db_url(redis_url: str) -> str:
    """The test Redis, on the CLI tests' own database."""
    return redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
