"""examples/fastapi_celery: every line of uvicorn and of a prefork Celery worker has the context."""

from __future__ import annotations

import pytest

from tests.examples.support import check_every_line, events, run_example

pytestmark = pytest.mark.integration

#: Lines logged outside any request, by design, and excluded from the check:
OUTSIDE = {
    # uvicorn's own lifecycle ("Started server process", "Uvicorn running on",
    # "Shutting down", ...): logged by the server, before or after all requests.
    "web": [("uvicorn.error", "")],
    "worker": [
        ("celery.worker.consumer.connection", r"^Connected to "),  # startup
        ("celery.apps.worker", r" ready\.$"),  # startup
        # Logged by the worker's consumer when the message arrives, before the
        # pool child restores the task's context (docs/logging.md says so).
        ("celery.worker.strategy", r"^Task \S+ received$"),
    ],
}


def test_every_web_and_worker_line_carries_the_requests_context(redis_url: str) -> None:
    output = run_example("fastapi_celery/run.py", {"EXAMPLE_BROKER_URL": redis_url})

    assert [(r["status"], r["tenant"]) for r in output.requests] == [
        (202, "acme"),
        (202, "globex"),
        (202, "acme"),
    ]
    lines = check_every_line(output, OUTSIDE, {"tenant": "tenant"})
    web, worker = lines["web"], lines["worker"]
    plain, _, gift = (r["request_id"] for r in output.requests)

    # What each request logged, in each process: the endpoint's structlog line,
    # uvicorn's access line, ctxcarry's warning, the tasks' lines and Celery's own.
    assert events(web, plain, "web") == ["order accepted"]
    assert len(events(web, plain, "uvicorn.access")) == 1
    assert events(web, plain, "ctxcarry") == []
    assert len(events(web, gift, "ctxcarry")) == 1
    assert "'gift_wrap'" in events(web, gift, "ctxcarry")[0]
    for request in output.requests:
        request_id = request["request_id"]
        assert events(worker, request_id, "tasks") == ["charging order", "sending receipt"]
        succeeded = events(worker, request_id, "celery.app.trace")
        assert len(succeeded) == 2
        assert all(" succeeded in " in event for event in succeeded)
    # The task's own ids are on its lines, never carried to the child as its id.
    receipts = [r for r in worker if r.get("task_name") == "example.send_receipt"]
    assert receipts
    assert all(r["parent_task_id"] != r["task_id"] for r in receipts)
