"""Every enqueue path, run by a real ``rq worker`` of each kind: Worker, SimpleWorker, SpawnWorker.

One burst run per worker class carries a dozen jobs, each enqueued in its own
context by a different path; each job reports what it saw. Jobs leave their
own bindings behind on purpose: a later job that saw them would fail.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from rq import Callback, Queue, Retry
from rq.decorators import job as job_decorator

from tests.rq import jobs
from tests.rq.conftest import WorkerRunner, expected_log, result

pytestmark = pytest.mark.integration

WORKERS = [
    "rq.worker.Worker",
    "rq.worker.SimpleWorker",
    "tests.rq.worker_classes.SpawnWorker",
]


def _enqueue_every_path(queue: Queue, tracer: trace.Tracer) -> dict[str, Any]:
    """Enqueue one job per path, each in its own context; return the ids and what was bound."""
    ids: dict[str, Any] = {}
    bind = structlog.contextvars.bound_contextvars
    with tracer.start_as_current_span("web request") as span, bind(request_id="req-plain"):
        with jobs.rq_tenant("plain"):
            ids["plain"] = queue.enqueue(jobs.probe, "plain").id
        ids["span"] = span.get_span_context()
    with jobs.rq_tenant("call"):
        ids["call"] = queue.enqueue_call(jobs.probe, args=("call",)).id
    with jobs.rq_tenant("many"):
        many = queue.enqueue_many(
            [
                Queue.prepare_data(jobs.probe, ("many-1",)),
                Queue.prepare_data(jobs.probe, ("many-2",)),
            ]
        )
    ids["many"] = [job.id for job in many]
    with jobs.rq_tenant("dep-parent"):
        parent = queue.enqueue(jobs.probe, "dep-parent")
    ids["dep-parent"] = parent.id
    with jobs.rq_tenant("dep-child"):
        ids["dep-child"] = queue.enqueue(jobs.probe, "dep-child", depends_on=parent).id
    with jobs.rq_tenant("retry"):
        ids["retry"] = queue.enqueue(jobs.flaky, "retry", retry=Retry(max=2)).id
    with (
        tracer.start_as_current_span("nesting request") as nesting,
        jobs.rq_tenant("nested"),
        bind(request_id="req-nested"),
    ):
        ids["nested"] = queue.enqueue(jobs.enqueue_child, "nested").id
    ids["nesting-span"] = nesting.get_span_context()
    with jobs.rq_tenant("async"):
        ids["async"] = queue.enqueue(jobs.async_probe, "async").id
    with jobs.rq_tenant("callback"):
        ids["callback"] = queue.enqueue(
            jobs.probe, "callback", on_success=Callback(jobs.record_success)
        ).id
    with jobs.rq_tenant("failure"):
        ids["failure"] = queue.enqueue(
            jobs.fail, "failure", on_failure=Callback(jobs.record_failure)
        ).id
    with jobs.rq_tenant("decorated"):
        ids["decorated"] = (
            job_decorator(queue, connection=queue.connection)(jobs.probe).delay("decorated").id
        )
    with jobs.rq_tenant("at"):
        ids["at"] = queue.enqueue_at(
            datetime.now(timezone.utc) + timedelta(seconds=1), jobs.probe, "at"
        ).id
    with jobs.rq_tenant("in"):
        ids["in"] = queue.enqueue_in(timedelta(seconds=1), jobs.probe, "in").id
    ids["bare"] = queue.enqueue(jobs.probe, "bare").id  # nothing bound: must see nothing
    return ids


@pytest.mark.parametrize("worker_class", WORKERS)
@pytest.mark.usefixtures("installed")
def test_every_enqueue_path_carries_and_nothing_leaks(
    queue: Queue, run_worker: WorkerRunner, tracer: trace.Tracer, worker_class: str
) -> None:
    ids = _enqueue_every_path(queue, tracer)
    time.sleep(1.2)  # the scheduled jobs come due; the burst worker's scheduler moves them
    run = run_worker(queue, worker_class=worker_class, scheduler=True)
    assert run.returncode == 0, run.output

    def check(key: str, label: str, tenant: str, **carried: Any) -> dict[str, Any]:
        job_id = ids[key] if isinstance(ids[key], str) else ids[key][int(label[-1]) - 1]
        report = result(queue, job_id)
        assert report["label"] == label
        assert report["tenant"] == tenant, (label, report)
        assert report["log"] == expected_log(job_id, **carried), (label, report)
        return report

    plain = check("plain", "plain", "plain", request_id="req-plain")
    span = ids["span"]
    assert plain["trace_id"] == format(span.trace_id, "032x")
    assert plain["span_id"] == format(span.span_id, "016x")  # the enqueuing span is the parent
    check("call", "call", "call")
    check("many", "many-1", "many")
    check("many", "many-2", "many")
    check("dep-parent", "dep-parent", "dep-parent")
    check("dep-child", "dep-child", "dep-child")  # its own context, not the parent job's
    check("decorated", "decorated", "decorated")
    check("at", "at", "at")
    check("in", "in", "in")
    assert result(queue, ids["async"])["tenant"] == "async"
    assert result(queue, ids["async"])["log"] == expected_log(
        ids["async"], name="tests.rq.jobs.async_probe"
    )
    bare = check("bare", "bare", None)  # type: ignore[arg-type]
    assert bare["trace_id"] is None

    # Retry: the same stored job, so the same carrier, on both tries.
    tries = [json.loads(raw) for raw in queue.connection.lrange(f"{queue.name}:tries", 0, -1)]
    assert [t["try"] for t in tries] == [1, 2]
    for attempt in tries:
        assert attempt["tenant"] == "retry"
        assert attempt["log"] == expected_log(ids["retry"], name="tests.rq.jobs.flaky")

    # Nested: the child inherits the running job's context and its own bindings, and
    # names it as its parent; the parent's own identity is not carried.
    nested = result(queue, ids["nested"])
    child_id = nested["child"]
    child = result(queue, child_id)
    assert child["tenant"] == "nested"
    # the running job's current span (here the carried one) is the child's parent
    assert child["trace_id"] == format(ids["nesting-span"].trace_id, "032x")
    assert child["span_id"] == nested["parent"]["span_id"]
    assert nested["parent"]["span_id"] == format(ids["nesting-span"].span_id, "016x")
    assert child["log"] == {
        **expected_log(child_id, request_id="req-nested", step="parent-nested"),
        "parent_task_id": ids["nested"],
    }

    # Callbacks run inside the job's scope.
    callbacks = {
        report["label"]: report
        for report in map(json.loads, queue.connection.lrange(f"{queue.name}:callbacks", 0, -1))
    }
    success = callbacks[f"success-{ids['callback']}"]
    assert success["tenant"] == "leaked-by-callback"  # the body's own change, still in scope
    assert success["log"]["task_id"] == ids["callback"]
    failure = callbacks[f"failure-{ids['failure']}"]
    assert failure["log"]["task_id"] == ids["failure"]
    assert failure["tenant"] == "leaked-by-failure"


@pytest.mark.parametrize("worker_class", WORKERS)
@pytest.mark.usefixtures("installed")
def test_rq_log_lines_for_a_job_carry_its_context_and_identity(
    queue: Queue, run_worker: WorkerRunner, worker_class: str
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-log"):
        ok = queue.enqueue(jobs.probe, "logged").id
        failing = queue.enqueue(jobs.fail, "logged-failure").id
    run = run_worker(queue, worker_class=worker_class)
    assert run.returncode == 0, run.output
    lines = run.log()

    def lines_about(job_id: str) -> list[dict[str, Any]]:
        return [
            line for line in lines if job_id in line["message"] and line["logger"] == "rq.worker"
        ]

    done = [line for line in lines_about(ok) if "Job OK" in line["message"]]
    assert done, lines
    for line in done:  # after the body: its own binding is still in scope, then undone
        assert line["context"] == {**expected_log(ok, request_id="req-log"), "leak_logged": "True"}
    completed = [line for line in lines if "Successfully completed" in line["message"]]
    assert completed
    assert all(line["context"]["task_id"] == ok for line in completed)
    failed = [
        line for line in lines if line["level"] == "ERROR" and "logged-failure" in line["message"]
    ]
    assert failed, lines
    assert failed[0]["context"] == {
        **expected_log(failing, name="tests.rq.jobs.fail", request_id="req-log"),
        "leak_logged-failure": "True",
    }
    # The line announcing the dequeue is the parent's, before the horse: no context there.
    announced = [
        line for line in lines_about(ok) if "tests.rq.jobs.probe('logged')" in line["message"]
    ]
    assert announced
    assert announced[0]["context"] == {}


@pytest.mark.usefixtures("installed")
def test_a_forking_worker_restores_in_the_horse_never_in_the_parent(
    queue: Queue, run_worker: WorkerRunner
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-parent"), jobs.rq_tenant("acme"):
        ids = [queue.enqueue(jobs.probe, f"fork-{n}").id for n in range(2)]
    run = run_worker(queue, worker_class="tests.rq.worker_classes.ParentWatchWorker")
    assert run.returncode == 0, run.output
    watched = [json.loads(raw) for raw in queue.connection.lrange(f"{queue.name}:parent", 0, -1)]
    assert [w["job"] for w in watched] == ids
    clean = {"log": {}, "vars": {"priority": None, "rq_tenant": None}}
    for record in watched:
        assert record["before"] == record["during"] == record["after"] == clean
    reports = [result(queue, job_id) for job_id in ids]
    assert all(r["tenant"] == "acme" for r in reports)
    assert reports[0]["pid"] != reports[1]["pid"]  # one horse per job


@pytest.mark.usefixtures("installed")
def test_the_adapters_spawnworker_installs_in_its_horse(
    queue: Queue, run_worker: WorkerRunner
) -> None:
    """``-w ctxcarry.adapters.rq.SpawnWorker``: the horse imports nothing of the settings."""
    with structlog.contextvars.bound_contextvars(request_id="req-spawn"), jobs.rq_tenant("acme"):
        carried = queue.enqueue(jobs.probe, "spawned").id
    bare = queue.enqueue(jobs.probe, "spawned-bare").id
    run = run_worker(queue, worker_class="ctxcarry.adapters.rq.SpawnWorker")
    assert run.returncode == 0, run.output
    report = result(queue, carried)
    assert report["tenant"] == "acme"
    assert report["log"] == expected_log(carried, request_id="req-spawn")
    assert result(queue, bare)["log"] == expected_log(bare)


@pytest.mark.usefixtures("installed")
def test_rqs_own_spawnworker_horse_restores_nothing(queue: Queue, run_worker: WorkerRunner) -> None:
    """Why the adapter ships a SpawnWorker: rq's starts a fresh interpreter per job."""
    with structlog.contextvars.bound_contextvars(request_id="req-spawn"), jobs.rq_tenant("acme"):
        job_id = queue.enqueue(jobs.probe, "plain-spawn").id
    run = run_worker(queue, worker_class="rq.worker.SpawnWorker")
    assert run.returncode == 0, run.output
    report = result(queue, job_id)
    assert report["tenant"] is None
    assert report["log"] == {}
