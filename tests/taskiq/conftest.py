"""Fixtures for the Taskiq adapter tests: Redis DB 11, RabbitMQ, real worker processes.

Redis database 11 is this area's own. Every worker gets its own queue (a Redis
list, or a RabbitMQ exchange and queues) named with this session's prefix, so
concurrent pytest sessions never take each other's messages. At the end of
the session this session's Redis keys and RabbitMQ queues and exchanges are
deleted; the DB is never flushed.
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
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from taskiq import AsyncBroker

from tests import services
from tests.taskiq.apps import make_broker
from tests.taskiq.transports import amqp_broker, amqp_queue_names, redis_broker

REDIS_DB = 11
#: Prefix of every queue, list and key this pytest session creates.
SESSION_PREFIX = f"ctxcarry-taskiq-{uuid.uuid4().hex[:6]}"
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def unique(label: str = "") -> str:
    """A queue, sink or key name no other test or session uses."""
    return f"{SESSION_PREFIX}-{label}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def taskiq_redis_url(redis_url: str) -> Iterator[str]:
    """Redis DB 11; this session's keys are deleted at the end."""
    with services.session_redis(redis_url, REDIS_DB, f"*{SESSION_PREFIX}*") as url:
        yield url


@pytest.fixture(scope="session")
def taskiq_amqp_url(amqp_url: str) -> str:
    """RabbitMQ (this session's exchanges and queues are deleted by :class:`Workers`)."""
    return amqp_url.rstrip("/") + "/" if amqp_url.endswith("//") else amqp_url


async def _delete_amqp(url: str, queues: list[str]) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        for queue in queues:
            for name in amqp_queue_names(queue):
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(queue)
    finally:
        await connection.close()


class Sink:
    """A Redis list the tasks push their reports into."""

    def __init__(self, url: str) -> None:
        self.key = unique("sink-")
        self.client = redis.Redis.from_url(url)

    def take(self, count: int = 1, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        """The next ``count`` reports, in arrival order (fails after ``timeout``)."""
        reports = []
        deadline = time.monotonic() + timeout
        while len(reports) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(reports)} of {count} reports after {timeout}s")
            # Short waits: redis-py's socket timeout must not fire during a long BLPOP.
            item = self.client.blpop([self.key], timeout=min(2, max(1, int(left))))
            if item is not None:
                reports.append(json.loads(item[1]))
        return reports


@pytest.fixture
def sink(taskiq_redis_url: str) -> Iterator[Sink]:
    """A fresh report list."""
    found = Sink(taskiq_redis_url)
    yield found
    found.client.delete(found.key)
    found.client.close()


@dataclass
class Worker:
    """A real ``taskiq worker`` (or ``taskiq scheduler``) process group."""

    queue: str
    transport: str
    broker_url: str
    sink_url: str
    process: subprocess.Popen[bytes]
    output: Path
    logfile: Path

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.read():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"process exited early:\n{self.read()[-4000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{text!r} not seen after {timeout}s:\n{self.read()[-4000:]}")

    def read(self) -> str:
        return self.output.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of the worker's structured log file."""
        if not self.logfile.exists():
            return []
        return [json.loads(line) for line in self.logfile.read_text().splitlines() if line]

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """Ask the process group to stop (SIGTERM)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, grace: float = 5) -> None:
        """TERM the process group, then KILL it if it lingers after ``grace`` seconds."""
        self.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _environment(
    queue: str,
    transport: str,
    broker_url: str,
    sink_url: str,
    installed: bool,
    otel: str,
    logfile: Path,
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CTXCARRY_TASKIQ_QUEUE=queue,
        CTXCARRY_TASKIQ_TRANSPORT=transport,
        CTXCARRY_TASKIQ_BROKER=broker_url,
        CTXCARRY_TASKIQ_SINK=sink_url,
        CTXCARRY_TASKIQ_INSTALLED="1" if installed else "0",
        CTXCARRY_TASKIQ_OTEL=otel,
        CTXCARRY_TASKIQ_LOGFILE=str(logfile),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    env.pop("CTXCARRY_STRICT", None)
    return env


class Workers:
    """Real worker and scheduler processes, started once per configuration and session."""

    def __init__(self, redis_url: str, directory: Path, request: pytest.FixtureRequest) -> None:
        self.redis_url = redis_url
        self.directory = directory
        self.request = request
        self.started: dict[tuple[Any, ...], Worker] = {}
        self.amqp_queues: list[str] = []
        self.amqp_url = ""

    def get(
        self, installed: bool = True, otel: str = "none", transport: str = "redis", own: str = ""
    ) -> Worker:
        """A running ``taskiq worker --workers 1`` with this configuration.

        ``own`` names a worker of its own (for tests that read its whole log).
        """
        key = ("worker", installed, otel, transport, own)
        worker = self.started.get(key)
        if worker is None or not worker.alive():
            queue = unique(f"{transport}-")
            worker = self.started[key] = self._spawn(
                queue, transport, installed, otel,
                ["worker", "tests.taskiq.worker_app:broker", "--workers", "1",
                 "--max-async-tasks", "600", "--shutdown-timeout", "3"],
            )  # fmt: skip
            worker.wait_for("Listening started")
        return worker

    def scheduler(self, worker: Worker) -> Worker:
        """A running ``taskiq scheduler`` sending to ``worker``'s queue."""
        key = ("scheduler", worker.queue)
        scheduler = self.started.get(key)
        if scheduler is None or not scheduler.alive():
            scheduler = self.started[key] = self._spawn(
                worker.queue, worker.transport, True, "none",
                ["scheduler", "tests.taskiq.worker_app:scheduler", "--update-interval", "1"],
                suffix=".scheduler",
            )  # fmt: skip
            scheduler.wait_for("Starting scheduler")
        return scheduler

    def _spawn(
        self,
        queue: str,
        transport: str,
        installed: bool,
        otel: str,
        arguments: list[str],
        suffix: str = "",
    ) -> Worker:
        if transport == "amqp":
            broker_url = self.amqp_url = self.request.getfixturevalue("taskiq_amqp_url")
            if queue not in self.amqp_queues:
                self.amqp_queues.append(queue)
        else:
            broker_url = self.redis_url
        output = self.directory / f"{queue}{suffix}.out"
        logfile = self.directory / f"{queue}{suffix}.jsonl"
        env = _environment(queue, transport, broker_url, self.redis_url, installed, otel, logfile)
        command = [sys.executable, "-m", "taskiq", *arguments, "--log-level", "INFO"]
        with output.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return Worker(queue, transport, broker_url, self.redis_url, process, output, logfile)

    def stop_all(self) -> None:
        """Stop every process, all at once (a worker may linger up to the grace period)."""
        for worker in self.started.values():
            worker.terminate()
        deadline = time.monotonic() + 5
        for worker in self.started.values():
            worker.stop(grace=max(0.1, deadline - time.monotonic()))
        if self.amqp_queues:  # after the workers: a live consumer would declare them again
            asyncio.run(_delete_amqp(self.amqp_url, self.amqp_queues))


@pytest.fixture(scope="session")
def workers(
    taskiq_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Workers]:
    """The session's worker processes (see :class:`Workers`)."""
    pool = Workers(taskiq_redis_url, tmp_path_factory.mktemp("taskiq"), request)
    yield pool
    pool.stop_all()


def producer(
    worker: Worker, installed: bool = True, otel: str = "none", **kwargs: Any
) -> AsyncBroker:
    """This process's twin of ``worker``'s broker (not started)."""
    if worker.transport == "amqp":
        raw = amqp_broker(worker.broker_url, worker.queue)
    else:
        raw = redis_broker(worker.broker_url, worker.queue)
    return make_broker(raw, worker.sink_url, installed=installed, otel=otel, **kwargs)


@contextlib.asynccontextmanager
async def started(broker: AsyncBroker) -> AsyncIterator[AsyncBroker]:
    """The broker, started for sending, shut down afterwards."""
    await broker.startup()
    try:
        yield broker
    finally:
        await broker.shutdown()
