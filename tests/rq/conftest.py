"""Fixtures for the RQ adapter tests: Redis DB 7, real ``rq worker`` processes.

Redis database 7 is this area's own. Every queue name starts with this
session's prefix, so two pytest sessions never take each other's jobs; the
DB is never flushed: at the end of the session this session's keys are
deleted (rq's own job keys expire with their result TTL).

Workers run in burst mode (``rq worker --burst``): a test enqueues, runs a
worker until the queue is empty, then reads the results from Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue

from ctxcarry.adapters.rq import install, is_installed, uninstall
from tests import services

REDIS_DB = 7
SESSION_PREFIX = f"ctxcarry-rq-{uuid.uuid4().hex[:6]}"
REPO = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT = 90


@pytest.fixture(scope="session")
def rq_url(redis_url: str) -> Iterator[str]:
    """Redis DB 7; this session's keys deleted at the end."""
    with services.session_redis(redis_url, REDIS_DB, f"*{SESSION_PREFIX}*") as url:
        yield url


@pytest.fixture
def connection(rq_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(rq_url)
    yield client
    client.close()


def unique_name(label: str = "") -> str:
    """A queue name no other test or session uses."""
    return f"{SESSION_PREFIX}-{label}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    """A fresh queue on DB 7."""
    return Queue(unique_name(), connection=connection)


@pytest.fixture
def installed() -> Iterator[None]:
    """The adapter installed in this (producer) process for the test."""
    install()
    yield
    uninstall()


@pytest.fixture(autouse=True)
def _uninstalled_afterwards() -> Iterator[None]:
    yield
    if is_installed():
        uninstall()


@dataclass
class WorkerRun:
    """What one burst worker run left behind."""

    returncode: int
    output: str
    log_path: Path
    spans_path: Path

    def log(self) -> list[dict[str, Any]]:
        """The worker's log records (rq and ctxcarry loggers) with their context."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def spans(self) -> list[dict[str, Any]]:
        if not self.spans_path.exists():
            return []
        return [json.loads(line) for line in self.spans_path.read_text().splitlines()]


WorkerRunner = Callable[..., WorkerRun]


@pytest.fixture
def run_worker(rq_url: str, tmp_path: Path) -> WorkerRunner:
    """``run_worker(queue, worker_class=..., ...)``: a real ``rq worker --burst`` to completion.

    ``install=False`` runs a worker without the adapter; ``otel`` is
    ``"ours-first"`` or ``"otel-first"`` (opentelemetry-instrumentation-rq);
    ``sentry=True`` adds sentry-sdk's RQ integration; ``scheduler=True``
    moves due scheduled jobs first.
    """

    def run(
        *queues: Queue | str,
        worker_class: str = "rq.worker.Worker",
        install: bool = True,
        otel: str = "",
        sentry: bool = False,
        scheduler: bool = False,
        serializer: str | None = None,
    ) -> WorkerRun:
        tag = uuid.uuid4().hex[:8]
        log_path, spans_path = tmp_path / f"worker-{tag}.log", tmp_path / f"spans-{tag}.jsonl"
        env = dict(os.environ)
        env.update(
            CTXCARRY_RQ_INSTALL="1" if install else "0",
            CTXCARRY_RQ_OTEL=otel,
            CTXCARRY_RQ_SENTRY="1" if sentry else "0",
            CTXCARRY_RQ_LOG=str(log_path),
            CTXCARRY_RQ_SPANS=str(spans_path),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        env.pop("CTXCARRY_STRICT", None)
        command = [
            sys.executable,
            "-m",
            "rq.cli",
            "worker",
            "--burst",
            "--url",
            rq_url,
            "-c",
            "tests.rq.worker_settings",
            "-w",
            worker_class,
            "--logging_level",
            "INFO",
        ]
        if scheduler:
            command.append("--with-scheduler")
        if serializer:
            command += ["--serializer", serializer]
        command += [q.name if isinstance(q, Queue) else q for q in queues]
        done = subprocess.run(
            command,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT,
        )
        return WorkerRun(done.returncode, done.stdout + done.stderr, log_path, spans_path)

    return run


def result(queue: Queue, job_id: str) -> Any:
    """A finished job's return value (fails with the job's status otherwise)."""
    job = queue.fetch_job(job_id)
    assert job is not None, f"job {job_id} is gone"
    status = job.get_status()
    assert status == "finished", f"job {job_id} is {status}: {job.latest_result()}"
    return job.return_value()


def expected_log(job_id: str, name: str = "tests.rq.jobs.probe", **carried: Any) -> dict[str, Any]:
    """The structlog context a job should see: what was carried plus its identity."""
    return {**carried, "task_id": job_id, "task_name": name}
