"""Fixtures for the Dramatiq adapter tests: real ``dramatiq`` workers on Redis DB 8 and RabbitMQ.

Redis database 8 is this area's own. Every key this session makes starts with
:data:`SESSION_PREFIX` (the Redis broker's namespace and the report lists), and
every queue name does too, so two pytest sessions never take each other's
messages. At the end of the session its Redis keys and its RabbitMQ queues
(with their ``.DQ`` delay and ``.XQ`` dead-letter queues) are deleted; nothing
is flushed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest

from tests import services
from tests.dramatiq.app import App, build_app

REDIS_DB = 8
#: Prefix of every Redis key and queue this pytest session creates.
SESSION_PREFIX = f"ctxcarry-dramatiq-{uuid.uuid4().hex[:6]}"
REPO = Path(__file__).resolve().parents[2]

_rabbit_queues: list[str] = []


@pytest.fixture(scope="session")
def dramatiq_redis_url(redis_url: str) -> Iterator[str]:
    """Redis DB 8; this session's keys deleted at the end."""
    with services.session_redis(redis_url, REDIS_DB, f"{SESSION_PREFIX}*") as url:
        yield url


@pytest.fixture(scope="session")
def dramatiq_amqp_url(amqp_url: str) -> str:
    """RabbitMQ, as pika reads it (this session's queues are deleted by ``_rabbit_cleanup``)."""
    return pika_url(amqp_url)


def pika_url(url: str) -> str:
    """``url`` with the default vhost spelled for pika (kombu's ``//`` is not ``/`` to pika)."""
    parts = urlsplit(url)
    path = parts.path if parts.path not in ("", "/", "//") else "/%2F"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def _rabbit_cleanup() -> Iterator[None]:
    """At the very end (after every worker stopped): delete this session's queues."""
    yield
    if not _rabbit_queues:
        return
    try:
        connection = pika.BlockingConnection(pika.URLParameters(pika_url(services.AMQP_URL)))
    except pika.exceptions.AMQPError:
        return  # RabbitMQ was never reachable: nothing was declared there
    channel = connection.channel()
    for queue in _rabbit_queues:
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
    connection.close()


def unique_queue(label: str = "") -> str:
    """A queue name no other test or session uses."""
    queue = f"{SESSION_PREFIX}-{label}{uuid.uuid4().hex[:8]}"
    _rabbit_queues.append(queue)
    return queue


class Services:
    """Where each broker kind lives, for building apps and workers."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    @property
    def reports(self) -> str:
        return str(self._request.getfixturevalue("dramatiq_redis_url"))

    def url(self, kind: str) -> str:
        if kind == "redis":
            return self.reports
        return str(self._request.getfixturevalue("dramatiq_amqp_url"))

    def app(self, kind: str, queue: str, installed: bool = True) -> App:
        return build_app(
            kind, self.url(kind), SESSION_PREFIX, queue, self.reports, installed=installed
        )


class SubprocessWorker:
    """A real ``dramatiq tests.dramatiq.worker_app`` process group (one worker process)."""

    def __init__(
        self,
        services: Services,
        kind: str,
        queue: str,
        threads: int,
        installed: bool,
        directory: Path,
        sentry: bool = False,
        otel: bool = False,
    ) -> None:
        self.queue = queue
        self.log_path = directory / f"{queue}.log"
        self.output_path = directory / f"{queue}.out"
        self.sentry_path = directory / f"{queue}.sentry" if sentry else None
        env = dict(os.environ)
        env.update(
            CTXCARRY_DRAMATIQ_KIND=kind,
            CTXCARRY_DRAMATIQ_URL=services.url(kind),
            CTXCARRY_DRAMATIQ_NAMESPACE=SESSION_PREFIX,
            CTXCARRY_DRAMATIQ_QUEUE=queue,
            CTXCARRY_DRAMATIQ_REPORTS=services.reports,
            CTXCARRY_DRAMATIQ_INSTALL="1" if installed else "0",
            CTXCARRY_DRAMATIQ_LOG=str(self.log_path),
            CTXCARRY_DRAMATIQ_SENTRY=str(self.sentry_path or ""),
            CTXCARRY_DRAMATIQ_OTEL="1" if otel else "0",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        env.pop("CTXCARRY_STRICT", None)
        command = [
            sys.executable,
            "-m",
            "dramatiq",
            "tests.dramatiq.worker_app:broker",
            "--processes=1",
            f"--threads={threads}",
            f"--queues={queue}",
            "--skip-logging",
            "--worker-shutdown-timeout=5000",
        ]
        self._output = self.output_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, app: App, timeout: float = 60) -> None:
        """Block until the worker has run a message (a ``probe`` labelled ``ready``)."""
        app.probe.send("ready")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            found = app.reports.blpop([app.report_key], timeout=1)
            if found is not None:
                return
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        """The end of the worker's own output (for failure messages)."""
        return self.output_path.read_text(errors="replace")[-4000:]

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line the worker process wrote so far."""
        import json

        if not self.log_path.exists():
            return []
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        """TERM the main process (it stops its worker processes), then KILL the group.

        Not the whole group: a worker process that gets TERM from both the shell
        and its parent can hang in its shutdown on RabbitMQ.
        """
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left in the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._output.close()


WorkerFactory = Callable[..., tuple[App, SubprocessWorker]]


def _factory(
    request: pytest.FixtureRequest, directory: Path
) -> tuple[WorkerFactory, list[tuple[App, SubprocessWorker]]]:
    services = Services(request)
    started: list[tuple[App, SubprocessWorker]] = []

    def start(
        kind: str = "redis",
        threads: int = 2,
        installed: bool = True,
        sentry: bool = False,
        producer_installed: bool = True,
        otel: bool = False,
    ) -> tuple[App, SubprocessWorker]:
        queue = unique_queue(f"{kind}-")
        app = services.app(kind, queue, installed=producer_installed)
        worker = SubprocessWorker(
            services, kind, queue, threads, installed, directory, sentry=sentry, otel=otel
        )
        started.append((app, worker))
        worker.wait_ready(app)
        return app, worker

    return start, started


def _stop_all(started: list[tuple[App, SubprocessWorker]]) -> None:
    for app, worker in started:
        worker.stop()
        app.close()


@pytest.fixture
def start_worker(
    request: pytest.FixtureRequest, tmp_path: Path, dramatiq_redis_url: str, _rabbit_cleanup: None
) -> Iterator[WorkerFactory]:
    """``app, worker = start_worker("redis", threads=1)``: a started, ready worker.

    ``app`` is this process's twin of the worker's broker and actors, on the
    worker's queue (``producer_installed=False``: without the adapter).
    """
    start, started = _factory(request, tmp_path)
    yield start
    _stop_all(started)


@pytest.fixture(scope="session")
def _shared_workers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dramatiq_redis_url: str,
    _rabbit_cleanup: None,
) -> Iterator[dict[str, tuple[App, SubprocessWorker]]]:
    start, started = _factory(request, tmp_path_factory.mktemp("dramatiq-workers"))

    class Lazy(dict[str, tuple[App, SubprocessWorker]]):
        def __missing__(self, kind: str) -> tuple[App, SubprocessWorker]:
            self[kind] = start(kind, threads=2)
            return self[kind]

    yield Lazy()
    _stop_all(started)


@pytest.fixture(params=["redis", "rabbitmq"])
def worker(
    request: pytest.FixtureRequest, _shared_workers: dict[str, tuple[App, SubprocessWorker]]
) -> tuple[App, SubprocessWorker]:
    """A shared ``dramatiq`` worker (2 threads) on each broker, with its twin app."""
    app, subprocess_worker = _shared_workers[request.param]
    app.reports.delete(app.report_key)
    return app, subprocess_worker


@pytest.fixture
def redis_worker(
    _shared_workers: dict[str, tuple[App, SubprocessWorker]],
) -> tuple[App, SubprocessWorker]:
    """The shared ``dramatiq`` worker on Redis only."""
    app, subprocess_worker = _shared_workers["redis"]
    app.reports.delete(app.report_key)
    return app, subprocess_worker
