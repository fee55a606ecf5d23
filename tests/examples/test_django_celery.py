"""examples/django_celery: Django (ASGI) and a prefork worker started with --skip-checks."""

from __future__ import annotations

import pytest

from tests.examples.support import check_every_line, events, run_example

pytestmark = pytest.mark.integration

#: Lines logged outside any request, by design, and excluded from the check:
OUTSIDE = {
    # uvicorn's own lifecycle ("Started server process", "Shutting down", ...).
    "web": [("uvicorn.error", "")],
    "worker": [
        # Celery's warning about running as root (CI does), at startup.
        ("py.warnings", r"SecurityWarning: You're running the worker with superuser"),
        ("celery.worker.consumer.connection", r"^Connected to "),  # startup
        ("celery.apps.worker", r" ready\.$"),  # startup
        # Logged by the worker's consumer when the message arrives, before the
        # pool child restores the task's context (docs/logging.md says so).
        ("celery.worker.strategy", r"^Task \S+ received$"),
    ],
}


def test_every_web_and_worker_line_carries_the_requests_context(redis_url: str) -> None:
    output = run_example("django_celery/run.py", {"EXAMPLE_BROKER_URL": redis_url})

    assert [(r["status"], r["tenant"], r["user"]) for r in output.requests] == [
        (202, "acme", "alice"),
        (202, "globex", "bob"),
        (404, "acme", "alice"),
    ]
    # tenant is bound at entry (BIND), username after authentication
    # (BIND_IDENTITY through ContextIdentityMiddleware): both on every line.
    lines = check_every_line(output, OUTSIDE, {"tenant": "tenant", "username": "user"})
    web, worker = lines["web"], lines["worker"]
    first, second, missing = (r["request_id"] for r in output.requests)

    for request_id in (first, second):
        assert events(web, request_id, "orders.views") == ["order accepted"]
        assert events(worker, request_id, "orders.tasks") == [
            "fulfilling order",
            "notifying customer",
        ]
        succeeded = events(worker, request_id, "celery.app.trace")
        assert len(succeeded) == 2
        assert all(" succeeded in " in event for event in succeeded)
    # Django's own request line, logged by ContextMiddleware inside the scope.
    assert events(web, missing, "django.request") == ["Not Found: /no-such-page"]
    # The identity's structlog key travels too.
    user_ids = {r["request_id"]: r.get("user_id") for r in worker}
    assert user_ids[first] != user_ids[second]
    assert None not in user_ids.values()
