"""Hostile carriers written straight into Redis never stop a job, and never leak.

Each hostile ``meta`` is written into the job's hash after a normal enqueue,
as a broken or malicious producer would leave it. A SimpleWorker runs them
all in one process, each followed by a clean job that must see nothing.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from rq import Queue

from ctxcarry.adapters.rq import META_KEY, PARENT_FIELD
from tests.rq import hostile, jobs
from tests.rq.conftest import WorkerRunner, expected_log, result

pytestmark = pytest.mark.integration

SECRET = "SECRET-VALUE"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

#: name -> (the raw ``meta`` field, what the job should see of it)
CASES: dict[str, tuple[bytes, dict[str, Any]]] = {
    "string-carrier": (pickle.dumps({META_KEY: SECRET}), {}),
    "list-carrier": (pickle.dumps({META_KEY: [SECRET] * 3}), {}),
    "envelope-not-object": (pickle.dumps({META_KEY: {"ctxcarry": SECRET}}), {}),
    "vars-not-object": (pickle.dumps({META_KEY: {"ctxcarry": {"v": 1, "vars": [SECRET]}}}), {}),
    "newer-version": (
        pickle.dumps(
            {
                META_KEY: {
                    "ctxcarry": {"v": 99, "vars": {"rq_tenant": SECRET}},
                    "structlog_context": {"request_id": "kept"},
                }
            }
        ),
        {"log": {"request_id": "kept"}},
    ),
    "unknown-queuevar": (
        pickle.dumps({META_KEY: {"ctxcarry": {"v": 1, "vars": {"nobody_registered": SECRET}}}}),
        {},
    ),
    "bad-key-names": (
        pickle.dumps({META_KEY: {"structlog_context": {"x" * 500: 1, "a b\n": SECRET}}}),
        {},
    ),
    "bad-trace": (pickle.dumps({META_KEY: {"traceparent": 12345, "tracestate": [SECRET]}}), {}),
    "garbage-traceparent": (pickle.dumps({META_KEY: {"traceparent": SECRET}}), {}),
    "bad-parent-id": (pickle.dumps({META_KEY: {PARENT_FIELD: {"id": SECRET}}}), {}),
    "unprintable-parent-id": (pickle.dumps({META_KEY: {PARENT_FIELD: "a\nb" + SECRET}}), {}),
    "huge": (
        pickle.dumps({META_KEY: {"structlog_context": {f"k{n}": [0] * 20000 for n in range(40)}}}),
        {},
    ),
    "exploding-carrier": (pickle.dumps({META_KEY: hostile.ExplodingMapping()}), {}),
    "exploding-meta": (pickle.dumps(hostile.ExplodingMeta({META_KEY: {}})), {}),
    "meta-not-a-dict": (pickle.dumps([SECRET]), {}),
    "meta-unpicklable": (b"\x80\x05not a pickle" + SECRET.encode(), {}),
    "meta-unimportable-class": (b"cno_such_module\nCls\n)R.", {}),
}


def _deep_value(depth: int) -> Any:
    value: Any = SECRET
    for _ in range(depth):
        value = [value]
    return value


CASES["deep"] = (pickle.dumps({META_KEY: {"structlog_context": {"deep": _deep_value(200)}}}), {})


def _write_meta(queue: Queue, job_id: str, raw: bytes) -> None:
    queue.connection.hset(f"rq:job:{job_id}", "meta", raw)


@pytest.mark.usefixtures("installed")
def test_hostile_carriers_never_stop_a_job_nor_leak(queue: Queue, run_worker: WorkerRunner) -> None:
    ids: list[tuple[str, str, dict[str, Any]]] = []
    for name, (raw, sees) in CASES.items():
        hostile_id = queue.enqueue(jobs.probe, name).id
        _write_meta(queue, hostile_id, raw)
        ids.append((name, hostile_id, sees))
        ids.append((f"clean-after-{name}", queue.enqueue(jobs.probe, f"clean-after-{name}").id, {}))
    run = run_worker(queue, worker_class="rq.worker.SimpleWorker")
    assert run.returncode == 0, run.output
    for name, job_id, sees in ids:
        report = result(queue, job_id)
        assert report["tenant"] is None, name
        assert report["log"] == expected_log(job_id, **sees.get("log", {})), name
        assert report["trace_id"] is None, name
    warnings = [line for line in run.log() if line["logger"] == "ctxcarry"]
    assert warnings  # each problem is reported ...
    assert SECRET not in run.output  # ... and never shows the value
    assert all(SECRET not in line["message"] for line in run.log())


@pytest.mark.usefixtures("installed")
def test_a_hostile_carrier_in_a_forked_horse(queue: Queue, run_worker: WorkerRunner) -> None:
    job_id = queue.enqueue(jobs.probe, "forked").id
    _write_meta(queue, job_id, CASES["exploding-carrier"][0])
    run = run_worker(queue)
    assert run.returncode == 0, run.output
    assert result(queue, job_id)["log"] == expected_log(job_id)
