"""Hostile carriers written straight into Redis never stop a job; the hooks never raise.

The job envelopes are pickled here and written with ``SET arq:job:<id>`` and
``ZADD <queue>``, exactly where ``enqueue_job`` puts them, so the carrier is
whatever the test says.
"""

from __future__ import annotations

import logging
import pickle
import time
import uuid
from typing import Any

import pytest
import structlog
from arq.jobs import Job

from ctxcarry import Carrier
from ctxcarry.adapters.arq import ENVELOPE_KEY, PARENT_KEY, install, pool_options
from tests.arq.conftest import (
    SESSION_PREFIX,
    ArqWorker,
    StartWorker,
    producer,
    result,
    run,
)
from tests.arq.worker_app import HostileMapping, tenant

pytestmark = pytest.mark.integration

JUNK: dict[str, Any] = {
    "string": "not a carrier",
    "number": 12345,
    "bytes": b"\x00\xff",
    "list": ["a", "b"],
    "envelope_not_object": {"ctxcarry": "nope"},
    "future_version": {"ctxcarry": {"v": 99, "vars": {"arq_tests.tenant": "x"}}},
    "unknown_var": {"ctxcarry": {"v": 1, "vars": {"no.such.var": 1}}},
    "bad_trace": {"traceparent": "00-zz-zz-zz", "tracestate": "x" * 50_000},
    "bad_log_keys": {"structlog_context": {"bad key!": 1, "k" * 5000: 2, "": 3}},
    "many_log_keys": {"structlog_context": {f"key_{i}": i for i in range(5000)}},
    "huge_baggage": {"baggage": "k=v," * 20_000},
    "oversized_4mb": {"structlog_context": {"blob": "x" * 4_000_000}},
}


def _write_job(url: str, queue: str, envelope: Any) -> str:
    """Put a raw job envelope where ``enqueue_job`` would; return its id."""
    import redis

    job_id = f"{SESSION_PREFIX}-hostile-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    try:
        client.psetex(f"arq:job:{job_id}", 60_000, pickle.dumps(envelope))
        client.zadd(queue, {job_id: int(time.time() * 1000)})
    finally:
        client.close()
    return job_id


def _envelope(carrier: Any) -> dict[str, Any]:
    return {
        "t": None,
        "f": "report",
        "a": (),
        "k": {},
        "et": int(time.time() * 1000),
        ENVELOPE_KEY: carrier,
    }


async def _result_of(worker: ArqWorker, job_id: str) -> Any:
    pool = await producer(worker.url, worker.queue)
    try:
        return await result(
            Job(job_id, pool, _queue_name=worker.queue, _deserializer=pool.job_deserializer)
        )
    finally:
        await pool.aclose()


def _drop_warnings(worker: ArqWorker) -> list[str]:
    return [
        line["message"]
        for line in worker.log_lines()
        if line["logger"] == "ctxcarry" and "dropped" in line["message"]
    ]


def _hook_failures(worker: ArqWorker) -> list[str]:
    return [
        line["message"]
        for line in worker.log_lines()
        if line["logger"] == "ctxcarry" and "goes on without it" in line["message"]
    ]


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_junk_carrier_never_stops_the_job(shared_worker: ArqWorker, junk: Any) -> None:
    warned_before = len(_drop_warnings(shared_worker))
    job_id = _write_job(shared_worker.url, shared_worker.queue, _envelope(junk))
    report = run(_result_of(shared_worker, job_id))
    assert report["tenant"] is None
    assert report["log"]["task_id"] == job_id
    if junk is not JUNK["many_log_keys"]:
        assert set(report["log"]) == {"task_id", "task_name"}
    # one warning names what was dropped (made inside enter(), before the identity is bound)
    assert len(_drop_warnings(shared_worker)) > warned_before
    assert _hook_failures(shared_worker) == []


def test_a_carrier_that_raises_on_every_read_never_stops_the_job(
    shared_worker: ArqWorker,
) -> None:
    job_id = _write_job(shared_worker.url, shared_worker.queue, _envelope(HostileMapping()))
    report = run(_result_of(shared_worker, job_id))
    assert report["tenant"] is None
    assert report["log"] == {"task_id": job_id, "task_name": "report"}


@pytest.mark.parametrize(
    "parent", [12345, {"x": 1}, None, "", "p" * 10, "p" * 10_000], ids=lambda p: str(p)[:12]
)
def test_a_junk_parent_id_is_never_bound_unless_it_is_a_string(
    shared_worker: ArqWorker, parent: Any
) -> None:
    envelope = {**_envelope({"structlog_context": {"request_id": "r-1"}}), PARENT_KEY: parent}
    job_id = _write_job(shared_worker.url, shared_worker.queue, envelope)
    report = run(_result_of(shared_worker, job_id))
    expected = {"request_id": "r-1", "task_id": job_id, "task_name": "report"}
    if isinstance(parent, str) and 0 < len(parent) <= 256:
        expected["parent_task_id"] = parent
    assert report["log"] == expected


def test_a_broken_envelope_fails_only_its_own_job(shared_worker: ArqWorker) -> None:
    bad = _write_job(shared_worker.url, shared_worker.queue, ["not", "an", "envelope"])
    good = _write_job(shared_worker.url, shared_worker.queue, _envelope({"ctxcarry": None}))
    with pytest.raises(Exception, match="deserialize"):
        run(_result_of(shared_worker, bad))  # arq's own DeserializationError
    assert run(_result_of(shared_worker, good))["log"]["task_id"] == good
    assert shared_worker.alive()


def test_strict_carrier_on_the_worker_logs_and_the_job_runs(arq_worker: StartWorker) -> None:
    worker = arq_worker(CTXCARRY_ARQ_STRICT="1")
    job_id = _write_job(worker.url, worker.queue, _envelope({"ctxcarry": "nope"}))
    report = run(_result_of(worker, job_id))
    assert report["tenant"] is None
    assert report["log"] == {}  # the hook gave up before binding anything
    assert any("arq on_job_start failed" in message for message in _hook_failures(worker))
    assert worker.alive()


def test_strict_carrier_on_the_producer_never_fails_an_enqueue(
    shared_worker: ArqWorker, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> Any:
        pool = await producer(shared_worker.url, shared_worker.queue)
        install(Carrier(strict=True))
        try:
            structlog.contextvars.bind_contextvars(unserialisable=object())
            with tenant("acme"), caplog.at_level(logging.ERROR, logger="ctxcarry"):
                job = await pool.enqueue_job("report")
            return await result(job)
        finally:
            await pool.aclose()

    report = run(scenario())
    assert report["tenant"] is None  # the job went without a carrier
    assert any("arq job serializer failed" in r.getMessage() for r in caplog.records)


def test_a_serializer_that_cannot_encode_the_carrier_never_fails_an_enqueue(
    shared_worker: ArqWorker, caplog: pytest.LogCaptureFixture
) -> None:
    def picky(data: dict[str, Any]) -> bytes:
        if ENVELOPE_KEY in data:
            raise TypeError("unknown key")
        return pickle.dumps(data)

    async def scenario() -> Any:
        from arq import create_pool
        from arq.connections import RedisSettings

        pool = await create_pool(
            RedisSettings.from_dsn(shared_worker.url),
            default_queue_name=shared_worker.queue,
            **pool_options(job_serializer=picky),
        )
        try:
            with tenant("acme"), caplog.at_level(logging.WARNING, logger="ctxcarry"):
                job = await pool.enqueue_job("report", 7)
            return await result(job)
        finally:
            await pool.aclose()

    report = run(scenario())
    assert report["args"] == [7]
    assert report["tenant"] is None
    assert any("cannot encode the carrier" in r.getMessage() for r in caplog.records)
