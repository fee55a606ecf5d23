"""A real prefork worker keeps its own process-level key when a producer binds the same one.

The scenario of issue 11: the web process binds ``side="web"`` at startup, the worker
``side="worker"``; the worker's Carrier excludes ``side``, so the task's lines say
"worker", even though this producer (the default Carrier) still packs ``side``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import structlog
from celery import Celery

from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker
from tests.celery.test_logs import _wait_for

pytestmark = pytest.mark.integration


def test_the_workers_side_survives_a_producer_that_binds_side(
    subprocess_worker: Callable[..., tuple[Celery, SubprocessWorker]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CTXCARRY_CELERY_SIDE", "worker")
    app, worker = subprocess_worker("prefork", concurrency=1, json_logs=True)
    structlog.contextvars.bind_contextvars(side="web", request_id="req-side")
    result = app.tasks["ctx.report"].delay()
    seen = result.get(timeout=RESULT_TIMEOUT)

    assert seen["log"] == {"side": "worker", "request_id": "req-side"}
    line = _wait_for(
        worker,
        lambda line: "succeeded" in str(line.get("event")) and line.get("task_id") == result.id,
    )
    assert (line["side"], line["request_id"]) == ("worker", "req-side")
