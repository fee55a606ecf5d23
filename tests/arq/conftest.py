"""Fixtures for the arq adapter tests: Redis DB 10, real ``arq`` worker processes.

Redis database 10 is this area's own. Every worker gets its own queue, prefixed
with this session's id, so workers never take each other's jobs, even when two
pytest sessions run at once. The DB is never flushed: at the end of the session
the keys named after this session's queues are deleted; job keys are deleted by
arq when a job finishes, and results expire by themselves (``keep_result``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from ctxcarry.adapters.arq import pool_options, uninstall
from tests import services

REDIS_DB = 10
#: Prefix of every queue this pytest session creates (see the module docstring).
SESSION_PREFIX = f"ctxcarry-arq-{uuid.uuid4().hex[:6]}"
REPO = Path(__file__).resolve().parents[2]
RESULT_TIMEOUT = 30

T = TypeVar("T")


def unique_queue(label: str = "") -> str:
    """A queue name no other test or session uses."""
    return f"{SESSION_PREFIX}-{label}{uuid.uuid4().hex[:8]}"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a producer scenario in a fresh event loop (a copy of the test's context)."""
    return asyncio.run(coroutine)


@pytest.fixture(scope="session")
def arq_url(redis_url: str) -> Iterator[str]:
    """Redis DB 10; this session's keys deleted at the end."""
    with services.session_redis(redis_url, REDIS_DB, f"*{SESSION_PREFIX}*") as url:
        yield url


@pytest.fixture(autouse=True)
def _uninstalled_after() -> Iterator[None]:
    """Each test starts and ends with the adapter uninstalled in the test process."""
    uninstall()
    yield
    uninstall()


async def producer(url: str, queue: str, carrying: bool = True) -> ArqRedis:
    """An arq pool on ``queue``: with the adapter (``pool_options()``) or as an old release."""
    options = pool_options() if carrying else {}
    return await create_pool(RedisSettings.from_dsn(url), default_queue_name=queue, **options)


async def result(job: Any, timeout: float = RESULT_TIMEOUT) -> Any:
    """The job's result (raises what the job raised)."""
    return await job.result(timeout=timeout, poll_delay=0.05)


class ArqWorker:
    """A real ``arq tests.arq.worker_app.WorkerSettings`` process."""

    def __init__(
        self, url: str, queue: str, tmp: Path, mode: str, burst: bool, **env_extra: str
    ) -> None:
        self.url = url
        self.queue = queue
        self.log_path = tmp / f"{queue}.log.jsonl"
        self.spans_path = tmp / f"{queue}.spans.jsonl"
        self.events_path = tmp / f"{queue}.events.jsonl"
        self.out_path = tmp / f"{queue}.out"
        env = dict(os.environ)
        env.update(
            CTXCARRY_ARQ_REDIS=url,
            CTXCARRY_ARQ_QUEUE=queue,
            CTXCARRY_ARQ_MODE=mode,
            CTXCARRY_ARQ_LOG=str(self.log_path),
            CTXCARRY_ARQ_SPANS=str(self.spans_path),
            CTXCARRY_ARQ_EVENTS=str(self.events_path),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            **env_extra,
        )
        env.pop("CTXCARRY_STRICT", None)
        command = [
            sys.executable,
            "-c",
            "from arq.cli import cli; cli()",
            "tests.arq.worker_app.WorkerSettings",
            "--custom-log-dict",
            "tests.arq.worker_app.LOG_CONFIG",
        ]
        if burst:
            command.append("--burst")
        self._out = self.out_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        """Block until the worker wrote its health-check key (its first poll)."""
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if client.exists(f"{self.queue}:health-check"):
                    return
                if self.process.poll() is not None:
                    raise RuntimeError(f"arq worker exited early:\n{self.output()}")
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"arq worker not ready after {timeout}s:\n{self.output()}")

    def wait_exit(self, timeout: float = 60) -> int:
        """For burst workers: wait until the queue is drained and the process exits."""
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        """The end of the worker's stdout/stderr (for failure messages)."""
        return self.out_path.read_text(errors="replace")[-4000:]

    def log_lines(self) -> list[dict[str, Any]]:
        """Every record the worker logged (see ``worker_app.ContextLogHandler``)."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def jsonl(self, path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """TERM the process group, then KILL it if it lingers."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._out.close()


StartWorker = Callable[..., ArqWorker]


@pytest.fixture
def arq_worker(arq_url: str, tmp_path: Path) -> Iterator[StartWorker]:
    """``worker = arq_worker(mode="ctxcarry", burst=False, **env)``: a started worker.

    A long-running worker is ready (its first poll happened) when returned; a
    burst worker is just started (enqueue first, then ``wait_exit``). Every
    worker started through the fixture is stopped at teardown.
    """
    started: list[ArqWorker] = []

    def start(mode: str = "ctxcarry", burst: bool = False, **env: str) -> ArqWorker:
        queue = env.pop("queue", None) or unique_queue(f"{mode}-")
        worker = ArqWorker(arq_url, queue, tmp_path, mode, burst, **env)
        started.append(worker)
        if not burst:
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def shared_worker(arq_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArqWorker]:
    """One adapter worker (max_jobs=10) shared by a test module."""
    worker = ArqWorker(
        arq_url, unique_queue("shared-"), tmp_path_factory.mktemp("arq"), "ctxcarry", False
    )
    worker.wait_ready()
    yield worker
    worker.stop()
