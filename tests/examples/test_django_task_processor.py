"""examples/django_task_processor: Django (ASGI) and Flagsmith's task processor on PostgreSQL."""

from __future__ import annotations

import importlib.util

import pytest

from tests import extras
from tests.examples.support import check_every_line, events, run_example
from tests.services import in_ci

pytestmark = pytest.mark.integration

#: Lines logged outside any request, by design, and excluded from the check:
OUTSIDE = {
    # uvicorn's own lifecycle ("Started server process", "Shutting down", ...).
    "web": [("uvicorn.error", "")],
    "processor": [
        # gunicorn, which flagsmith-common's `start` runs beside the processor
        # (health checks): "Starting gunicorn", "Booting worker", "Shutting down".
        ("gunicorn.error", ""),
        ("task_processor.threads", r"^Processor starting$"),  # startup
        # At shutdown the runner threads are stopped and reported as unhealthy.
        ("task_processor.threads", r"^\d+ unhealthy threads detected$"),
    ],
}


def _require_common_core() -> None:
    """`manage.py start` needs flagsmith-common's `common-core` extra (gunicorn, drf-spectacular).

    ctxcarry's `task-processor` extra does not install it: skip locally, fail under CI.
    """
    reason = extras.missing_reason(extras.TASK_PROCESSOR)
    if reason is not None:  # Python 3.10 or Django 6: flagsmith-common cannot be installed
        pytest.skip(reason)
    missing = [m for m in ("gunicorn", "drf_spectacular") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = f'needs "gunicorn and drf-spectacular" (missing: {", ".join(missing)})'
    if in_ci():
        pytest.fail(f"{message}; CI=true: a missing dependency is a failure")
    pytest.skip(message)


def test_every_web_and_processor_line_carries_the_requests_context(
    postgres_available: None,
) -> None:
    _require_common_core()
    output = run_example("django_task_processor/run.py", {})

    assert [(r["status"], r["tenant"]) for r in output.requests] == [
        (202, "acme"),
        (202, "globex"),
        (202, "initech"),
    ]
    lines = check_every_line(output, OUTSIDE, {"tenant": "tenant"})
    web, processor = lines["web"], lines["processor"]
    acme, globex, export = (r["request_id"] for r in output.requests)

    for request_id in (acme, globex):
        assert events(web, request_id, "reports.views") == ["report requested"]
        # The task, and the task it enqueued, in the processor's pool threads.
        assert events(processor, request_id, "reports.tasks") == [
            "building report",
            "sending report",
        ]
    # The processor's own line, logged by its runner thread.
    failures = events(processor, export, "task_processor.processor")
    assert failures
    assert all(
        event.startswith("Failed to execute task 'tasks.export_report'") for event in failures
    )
