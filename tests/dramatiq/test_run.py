"""The worker side: restored around the whole message, undone exactly, identity in the logs."""

from __future__ import annotations

import time
from typing import Any

import pytest
import structlog

from tests.dramatiq.app import App, tenant
from tests.dramatiq.conftest import SubprocessWorker, WorkerFactory

pytestmark = pytest.mark.integration

Worker = tuple[App, SubprocessWorker]


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_next_message_on_the_same_thread_starts_clean(
    start_worker: WorkerFactory, kind: str
) -> None:
    """One worker thread: the first message binds and sets things it never undoes."""
    app, _ = start_worker(kind, threads=1)
    structlog.contextvars.bind_contextvars(request_id="req-first")
    with tenant("first-co"):
        app.probe.send("first")
    structlog.contextvars.clear_contextvars()
    [first] = app.collect(1)
    app.probe.send("second")
    [second] = app.collect(1)
    assert first["thread"] == second["thread"]
    assert first["tenant"] == "first-co"
    assert second["tenant"] is None  # not "leaked-first", not "first-co"
    assert set(second["log"]) == {"task_id", "task_name"}  # no leaked_key, no request_id


def test_a_thousand_messages_with_distinct_contexts(start_worker: WorkerFactory) -> None:
    """No message sees another's context, none sees leftovers; 4 threads, one process."""
    app, _ = start_worker("redis", threads=4)
    count = 1000
    sent: dict[str, str] = {}
    started = time.monotonic()
    for index in range(count):
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=f"req-{index}")
        if index % 3 == 0:  # a key only some messages carry: a leftover would show
            structlog.contextvars.bind_contextvars(every_third=index)
        with tenant(f"tenant-{index}"):
            message = app.probe.send(f"m{index}")
        sent[f"m{index}"] = message.message_id
    structlog.contextvars.clear_contextvars()
    reports = app.collect(count, timeout=60)
    elapsed = time.monotonic() - started
    wrong = []
    for report in reports:
        index = report["label"][1:]
        expected_log: dict[str, Any] = {
            "request_id": f"req-{index}",
            "task_id": sent[report["label"]],
            "task_name": "probe",
        }
        if int(index) % 3 == 0:
            expected_log["every_third"] = int(index)
        if report["tenant"] != f"tenant-{index}" or report["log"] != expected_log:
            wrong.append(report)
    assert not wrong, wrong[:5]
    assert sorted(r["label"] for r in reports) == sorted(sent)
    assert len({r["thread"] for r in reports}) > 1  # really concurrent threads
    assert elapsed < 120


def log_lines_of(worker: SubprocessWorker, task_id: str, wait: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    while True:
        lines = [line for line in worker.log_lines() if line.get("task_id") == task_id]
        if (
            any("Retrying" in line.get("event", "") for line in lines)
            or time.monotonic() > deadline
        ):
            return lines
        time.sleep(0.1)


def test_task_identity_and_context_in_the_workers_own_log_lines(redis_worker: Worker) -> None:
    """The actor's lines and Dramatiq's own (failure, retry) carry the message's identity."""
    app, worker = redis_worker
    structlog.contextvars.bind_contextvars(request_id="req-logs")
    with tenant("log-co"):
        message = app.logs.send("logged", fail=True)
    _, retried = app.collect(2)
    assert retried["retries"] == 1
    lines = log_lines_of(worker, message.message_id)
    events = {line["event"].split(" ")[0]: line for line in lines}
    actor_line = events["actor"]
    assert actor_line["task_name"] == "logs"
    assert actor_line["request_id"] == "req-logs"
    failed = events["Failed"]  # dramatiq.worker: "Failed to process message ..."
    assert failed["logger"].startswith("dramatiq.worker")
    assert failed["task_id"] == message.message_id
    assert failed["request_id"] == "req-logs"
    retrying = events["Retrying"]  # dramatiq.middleware.retries, in its after hook
    assert retrying["task_id"] == message.message_id
    assert retrying["task_name"] == "logs"
    # Nothing of the message outlives it on the thread.
    unrelated = [line for line in worker.log_lines() if line.get("event") == "actor log line"]
    assert all(line.get("task_id") for line in unrelated)


def test_parent_task_id_in_the_childs_log_lines(redis_worker: Worker) -> None:
    app, _ = redis_worker
    sent = app.parent.send("logged-parent")
    reports = {report["label"]: report for report in app.collect(2)}
    child = reports["logged-parent.child"]
    assert child["log"]["parent_task_id"] == sent.message_id
    assert child["log"]["task_id"] != sent.message_id
    assert "parent_task_id" not in reports["logged-parent"]["log"]


def test_direct_call_inside_a_worker_run_leaves_the_run_intact(worker: Worker) -> None:
    app, _ = worker
    with tenant("outer-co"):
        app.direct_caller.send("outer")
    inline, outer = app.collect(2)
    assert inline["label"] == "outer.inline"
    assert inline["tenant"] == "outer-co"  # the inline call sees its caller's context
    assert inline["log"]["outer"] == "outer"
    assert outer["tenant"] == "outer-co"  # not "leaked-outer.inline"
    assert outer["log"] == outer["before"]["log"]  # no leaked_key from the inline call


def test_the_middleware_is_first_in_the_workers_list(worker: Worker) -> None:
    app, _ = worker
    names = [type(middleware).__name__ for middleware in app.broker.middleware]
    assert names[0] == "ContextMiddleware"
    assert names.index("Retries") > 0
    assert names.index("Pipelines") > 0
