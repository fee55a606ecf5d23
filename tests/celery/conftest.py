"""Fixtures for the Celery adapter tests: Redis DB 3, in-process and subprocess workers.

Redis database 3 is this area's own. Every app gets its own queue name, prefixed
with this session's id, so workers never take each other's tasks, even when two
pytest sessions run these tests at once. The DB is never flushed (that would pull
the queues from under a concurrent session): at the end of the session its own
keys are deleted, and task results expire by themselves (``result_expires``).
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

import celery.contrib.testing.tasks  # noqa: F401 - registers celery.ping for start_worker
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from ctxcarry.adapters.celery import uninstall
from tests import services
from tests.celery.apps import build_app

REDIS_DB = 3
#: Prefix of every queue this pytest session creates (see the module docstring).
SESSION_PREFIX = f"ctxcarry-celery-{uuid.uuid4().hex[:6]}"
REPO = Path(__file__).resolve().parents[2]
RESULT_TIMEOUT = 20


@pytest.fixture(scope="session")
def celery_broker_url(redis_url: str) -> Iterator[str]:
    """Redis DB 3 as broker and result backend; this session's queues deleted at the end."""
    with services.session_redis(redis_url, REDIS_DB, f"*{SESSION_PREFIX}*") as url:
        yield url


def unique_queue(label: str = "") -> str:
    """A queue (and app) name no other test or session uses."""
    return f"{SESSION_PREFIX}-{label}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def celery_app(celery_broker_url: str) -> Iterator[Celery]:
    """A fresh app with the test tasks and ctxcarry installed, on its own queue."""
    name = unique_queue()
    app = build_app(name, celery_broker_url, queue=name)
    yield app
    uninstall(app)
    app.close()


@pytest.fixture(scope="module")
def worker_app(celery_broker_url: str) -> Iterator[Celery]:
    """An app with a threads-pool worker (4 threads) in this process, shared by a module."""
    name = unique_queue()
    app = build_app(name, celery_broker_url, queue=name)
    with start_worker(
        app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        shutdown_timeout=10,
        loglevel="WARNING",
    ):
        yield app
    uninstall(app)
    app.close()


@pytest.fixture
def in_process_worker() -> Callable[..., contextlib.AbstractContextManager[Any]]:
    """``with in_process_worker(app, pool="threads"):`` runs a worker thread in this process."""

    @contextlib.contextmanager
    def run(app: Celery, pool: str = "threads", concurrency: int = 2) -> Iterator[Any]:
        with start_worker(
            app,
            pool=pool,
            concurrency=concurrency,
            perform_ping_check=False,
            shutdown_timeout=10,
            loglevel="WARNING",
        ) as worker:
            yield worker

    return run


class SubprocessWorker:
    """A real ``celery -A tests.celery.worker_app worker`` process group."""

    def __init__(
        self,
        broker_url: str,
        queue: str,
        pool: str,
        concurrency: int,
        otel: bool,
        log_path: Path,
        backend_url: str | None = None,
        json_logs: bool = False,
    ) -> None:
        self.queue = queue
        env = dict(os.environ)
        env.update(
            CTXCARRY_CELERY_BROKER=broker_url,
            CTXCARRY_CELERY_QUEUE=queue,
            CTXCARRY_CELERY_POOL=pool,
            CTXCARRY_CELERY_OTEL="1" if otel else "0",
            CTXCARRY_CELERY_BACKEND=backend_url or broker_url,
            CTXCARRY_CELERY_JSON_LOGS="1" if json_logs else "0",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        env.pop("CTXCARRY_STRICT", None)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery.worker_app",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--queues={queue}",
            f"--hostname={queue}@%h",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ]
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, app: Celery, timeout: float = 30) -> None:
        """Block until the worker answers a ping on the control bus."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(self.queue + "@") for reply in replies for name in reply):
                return
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """The end of the worker's output (for failure messages)."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        """True while the worker's main process runs."""
        return self.process.poll() is None

    def stop(self) -> None:
        """TERM the whole process group, then KILL it if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture
def subprocess_worker(
    celery_broker_url: str, tmp_path: Path
) -> Iterator[Callable[..., tuple[Celery, SubprocessWorker]]]:
    """``app, worker = subprocess_worker("prefork", concurrency=2)``: a started, ready worker.

    ``app`` is this process's twin of the worker's app, on the worker's queue.
    ``broker_url`` picks another broker (results stay in Redis DB 3).
    Every worker started through the fixture is stopped at teardown.
    """
    started: list[tuple[Celery, SubprocessWorker]] = []

    def start(
        pool: str,
        concurrency: int = 1,
        otel: bool = False,
        broker_url: str | None = None,
        json_logs: bool = False,
    ) -> tuple[Celery, SubprocessWorker]:
        queue = unique_queue(f"{pool}-")
        broker = broker_url or celery_broker_url
        app = build_app(queue, broker, queue=queue)
        app.conf.result_backend = celery_broker_url
        worker = SubprocessWorker(
            broker,
            queue,
            pool,
            concurrency,
            otel,
            tmp_path / f"{queue}.log",
            backend_url=celery_broker_url,
            json_logs=json_logs,
        )
        started.append((app, worker))
        worker.wait_ready(app)
        return app, worker

    yield start
    for app, worker in started:
        worker.stop()
        uninstall(app)
        app.close()
