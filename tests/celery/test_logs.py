"""A real prefork worker with the JSON logging recipe: Celery's own lines carry the context."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import structlog
from celery import Celery
from opentelemetry import trace

from tests.celery.apps import tenant
from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker

pytestmark = pytest.mark.integration


def _json_lines(worker: SubprocessWorker) -> list[dict[str, Any]]:
    lines = []
    for text in worker.log_path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue
    return lines


def _wait_for(worker: SubprocessWorker, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + RESULT_TIMEOUT
    while time.monotonic() < deadline:
        found = [line for line in _json_lines(worker) if match(line)]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no such line in the worker's output:\n{worker.log()}")


def test_celerys_own_success_line_carries_the_request_context(
    subprocess_worker: Callable[..., tuple[Celery, SubprocessWorker]], tracer: trace.Tracer
) -> None:
    app, worker = subprocess_worker("prefork", concurrency=1, json_logs=True)
    structlog.contextvars.bind_contextvars(request_id="req-json")
    with tracer.start_as_current_span("web-request") as web, tenant("acme"):
        result = app.tasks["ctx.report"].delay()
    result.get(timeout=RESULT_TIMEOUT)

    line = _wait_for(worker, lambda line: "succeeded" in str(line.get("event")))

    assert line["logger"] == "celery.app.trace"
    assert line["request_id"] == "req-json"
    assert line["celery_tests.tenant"] == "acme"
    assert line["trace_id"] == format(web.get_span_context().trace_id, "032x")
    assert (line["task_id"], line["task_name"]) == (result.id, "ctx.report")
    assert not worker.log().lstrip().startswith("[")  # not wrapped by redirected stdout
