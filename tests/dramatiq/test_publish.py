"""Every publish path carries the context, to a real ``dramatiq`` worker on Redis and RabbitMQ."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
import structlog
from opentelemetry import trace

from ctxcarry.adapters.dramatiq import OPTION, PARENT_OPTION
from tests.dramatiq.app import App, tenant
from tests.dramatiq.conftest import SubprocessWorker

pytestmark = pytest.mark.integration

Worker = tuple[App, SubprocessWorker]


def by_label(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {report["label"]: report for report in reports}


def carried(report: dict[str, Any]) -> dict[str, Any]:
    """The structlog keys a report saw, minus the message's own identity keys."""
    return {
        key: value
        for key, value in report["log"].items()
        if key not in ("task_id", "task_name", "parent_task_id")
    }


def test_send_carries_queuevar_structlog_and_trace(worker: Worker, tracer: trace.Tracer) -> None:
    app, _ = worker
    structlog.contextvars.bind_contextvars(request_id="req-1", user_id=42)
    with tenant("acme"), tracer.start_as_current_span("web") as span:
        message = app.probe.send("plain")
    [report] = app.collect(1)
    assert report["tenant"] == "acme"
    assert carried(report) == {"request_id": "req-1", "user_id": 42}
    context = span.get_span_context()
    assert report["trace_id"] == f"{context.trace_id:032x}"
    assert report["span_id"] == f"{context.span_id:016x}"  # the enqueuing span is the parent
    assert report["log"]["task_id"] == message.message_id
    assert report["log"]["task_name"] == "probe"
    assert "parent_task_id" not in report["log"]  # enqueued outside a task


def test_send_with_options_and_nothing_bound(worker: Worker) -> None:
    app, _ = worker
    with tenant("globex"):
        app.probe.send_with_options(args=("options",), on_success=None)
    app.probe.send("unbound")  # nothing bound here
    reports = by_label(app.collect(2))
    assert reports["options"]["tenant"] == "globex"
    assert reports["unbound"]["tenant"] is None
    assert carried(reports["unbound"]) == {}


def test_broker_enqueue_of_a_built_message(worker: Worker) -> None:
    app, _ = worker
    with tenant("initech"):
        app.broker.enqueue(app.probe.message("built"))
    [report] = app.collect(1)
    assert report["tenant"] == "initech"


def test_delayed_message_keeps_its_context(worker: Worker) -> None:
    """A delayed message is re-enqueued by a consumer thread, in an empty context."""
    app, _ = worker
    structlog.contextvars.bind_contextvars(request_id="req-delay")
    with tenant("delayed-co"):
        app.probe.send_with_options(args=("delayed",), delay=300)
    [report] = app.collect(1)
    assert report["tenant"] == "delayed-co"
    assert carried(report) == {"request_id": "req-delay"}


def test_retries_keep_the_original_context_and_not_the_failed_attempts(worker: Worker) -> None:
    app, _ = worker
    structlog.contextvars.bind_contextvars(request_id="req-retry")
    with tenant("retry-co"):
        message = app.probe.send("flaky", fail_times=2)
    reports = app.collect(3)
    assert [r["retries"] for r in reports] == [0, 1, 2]
    for report in reports:
        assert report["tenant"] == "retry-co"  # not "leaked-flaky" from the failed attempt
        assert carried(report) == {"request_id": "req-retry"}  # no leaked_key
        assert report["log"]["task_id"] == message.message_id
        assert "parent_task_id" not in report["log"]


def test_retries_of_a_message_sent_with_nothing_bound(worker: Worker) -> None:
    """The failed attempt's own bindings must not travel with the retry."""
    app, _ = worker
    app.probe.send("flaky-unbound", fail_times=1)
    reports = app.collect(2)
    assert [r["retries"] for r in reports] == [0, 1]
    assert all(r["tenant"] is None and carried(r) == {} for r in reports)


def test_pipeline_steps_carry_the_context(worker: Worker) -> None:
    """Steps 2 and 3 are sent by the worker (Pipelines, after the previous step)."""
    app, _ = worker
    structlog.contextvars.bind_contextvars(request_id="req-pipe")
    with tenant("pipe-co"):
        pipe = dramatiq.pipeline(
            [app.step.message("s1"), app.step.message("s2"), app.step.message("s3")],
            broker=app.broker,
        ).run()
    reports = by_label(app.collect(3))
    assert reports["s2"]["previous"] == "s1"
    for label in ("s1", "s2", "s3"):
        assert reports[label]["tenant"] == "pipe-co"
        assert reports[label]["log"]["request_id"] == "req-pipe"
    # Each step is enqueued from inside the previous one's run: its parent.
    assert "parent_task_id" not in reports["s1"]["log"]
    assert reports["s2"]["log"]["parent_task_id"] == reports["s1"]["message_id"]
    assert reports["s3"]["log"]["parent_task_id"] == reports["s2"]["message_id"]
    assert reports["s1"]["message_id"] == pipe.messages[0].message_id
    # What a step bound in its body stays in it: the next step gets the pipeline's context.
    assert "step_bound" not in reports["s2"]["log"]
    assert "step_bound" not in reports["s3"]["log"]


def test_group_and_its_completion_callback(worker: Worker) -> None:
    app, _ = worker
    with tenant("group-co"):
        group = dramatiq.group(
            [app.probe.message("g1"), app.probe.message("g2"), app.probe.message("g3")],
            broker=app.broker,
        )
        group.add_completion_callback(app.child.message("group-done"))
        group.run()
    reports = by_label(app.collect(4))
    assert {reports[label]["tenant"] for label in ("g1", "g2", "g3")} == {"group-co"}
    done = reports["group-done"]
    # Sent by the worker after the last child: the group's context, not that child's leftovers.
    assert done["tenant"] == "group-co"
    assert "leaked_key" not in done["log"]
    child_ids = {reports[label]["message_id"] for label in ("g1", "g2", "g3")}
    assert done["log"]["parent_task_id"] in child_ids
    # The completion barrier's keys (GroupCallbacks' rate limiter backend, no namespace).
    for barrier in {reports[label]["group"] for label in ("g1", "g2", "g3")}:
        app.reports.delete(barrier, f"{barrier}@events")


def test_success_and_failure_callbacks(worker: Worker) -> None:
    app, _ = worker
    with tenant("callback-co"):
        ok = app.child.send_with_options(args=("with-callback",), on_success=app.on_done)
    reports = by_label(app.collect(2))
    assert reports["callback"]["tenant"] == "callback-co"  # not the child's "leaked-..."
    assert reports["callback"]["of"] == ok.message_id
    assert reports["callback"]["log"]["parent_task_id"] == ok.message_id

    with tenant("failure-co"):
        failed = app.broken.send_with_options(args=("fails",), on_failure=app.on_done)
    reports = by_label(app.collect(2))
    assert reports["callback"]["tenant"] == "failure-co"
    assert reports["callback"]["of"] == failed.message_id
    assert reports["callback"]["outcome"]["type"] == "Flaky"
    assert reports["callback"]["log"]["parent_task_id"] == failed.message_id


def test_nested_send_inherits_the_running_context_with_the_current_span(worker: Worker) -> None:
    app, _ = worker
    structlog.contextvars.bind_contextvars(request_id="req-nested")
    with tenant("nested-co"):
        sent = app.parent.send("p")
    reports = by_label(app.collect(2))
    parent, child = reports["p"], reports["p.child"]
    assert child["tenant"] == "nested-co"
    assert child["log"]["request_id"] == "req-nested"
    assert child["log"]["parent_bound"] == "p"  # bound by the parent before sending
    assert child["log"]["parent_task_id"] == sent.message_id
    assert child["trace_id"] == parent["trace_id"]
    assert child["span_id"] == parent["span_id"]  # the parent's span is the child's parent
    assert child["log"]["task_id"] != parent["log"]["task_id"]


def test_async_actor_and_its_nested_send(worker: Worker) -> None:
    app, _ = worker
    structlog.contextvars.bind_contextvars(request_id="req-async")
    with tenant("async-co"):
        first = app.async_probe.send("async")
        app.async_parent.send("ap")
    structlog.contextvars.clear_contextvars()
    app.async_probe.send("async-after")  # nothing bound: must not see the first's leftovers
    reports = by_label(app.collect(4))
    assert reports["async"]["tenant"] == "async-co"
    assert reports["async"]["log"]["request_id"] == "req-async"
    assert reports["async"]["log"]["task_id"] == first.message_id
    assert reports["ap.child"]["tenant"] == "async-co"
    assert reports["ap.child"]["log"]["parent_task_id"] == reports["ap"]["message_id"]
    assert reports["async-after"]["tenant"] is None
    assert carried(reports["async-after"]) == {}


def test_message_options_hold_the_carrier(worker: Worker) -> None:
    """What travels: one option with the carrier, one with the parent id when nested."""
    app, _ = worker
    with tenant("wire-co"):
        message = app.probe.send("wire")
    app.collect(1)
    carrier = message.options[OPTION]
    assert carrier["ctxcarry"]["vars"] == {"dramatiq_tests.tenant": "wire-co"}
    assert PARENT_OPTION not in message.options
