"""The demo's Celery side: an app with ctxcarry installed, its tasks, an in-process worker.

Tasks log through structlog: the Celery adapter restored the request's
context before each task, so the lines carry the request id, tenant and trace
id of the request that caused them -- also for the task a task enqueues and
for the second attempt of a task that retried.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

__all__ = ["DemoTasks", "make_app", "running_worker"]

log = structlog.get_logger(side="worker")

#: How often the in-process worker polls an embedded broker (kombu's default is 1 s).
POLL_INTERVAL = 0.05
#: Longest wait for the worker to start, or for a task, before the demo gives up.
WORKER_START_TIMEOUT = 10.0
#: How long a stopping worker may take before the demo moves on (its thread is a daemon).
WORKER_STOP_TIMEOUT = 1.0


@dataclass(frozen=True)
class DemoTasks:
    """The demo's tasks, bound to one app."""

    build_report: Any
    notify: Any
    export: Any
    housekeeping: Any


def notify(task: Any, report: str) -> None:
    """Enqueued by :func:`build_report`, from the worker: context crosses a second hop."""
    log.info(f"notify: report {report} is ready (task enqueued by a task)", task="notify")


def build_report(task: Any, report: str) -> None:
    """Enqueued by the endpoint; enqueues :func:`notify` in turn."""
    log.info(f"build_report: building {report}", task="build_report")
    task.app.tasks[NOTIFY].delay(report)


def export(task: Any, report: str) -> None:
    """Fails its first attempt and retries: the retry is published by the worker."""
    attempt = task.request.retries + 1
    if attempt == 1:
        log.info("export: storage busy, retrying", task="export", attempt=attempt)
        raise task.retry(countdown=0)
    log.info(f"export: exported {report} on attempt {attempt}", task="export", attempt=attempt)


def housekeeping(task: Any) -> None:
    """Enqueued outside any request: it must see no request's context."""
    log.info("housekeeping: enqueued outside any request", task="housekeeping")


NOTIFY = "demo.notify"


def make_app(broker: str) -> tuple[Any, DemoTasks]:
    """A Celery app on ``broker`` with ctxcarry installed and the demo's tasks.

    Results are not stored: the demo watches the logs instead. The queue has a
    name of its own (auto-deleted on AMQP), so the demo never takes another
    worker's tasks from a real broker.
    """
    # Framework imports stay inside functions: no module of the ctxcarry package
    # imports a framework at import time, even one loaded only by the demo.
    from celery import Celery

    # mypy checks the adapters as the top-level package "adapters" (setuptools maps them).
    from ctxcarry.adapters.celery import install  # type: ignore[import-not-found, unused-ignore]

    app = Celery(f"ctxcarry-demo-{uuid.uuid4().hex[:8]}", broker=broker, set_as_current=False)
    queue = f"ctxcarry-demo-{uuid.uuid4().hex}"
    app.conf.update(
        task_ignore_result=True,
        task_default_queue=queue,
        task_queues={queue: {"exchange": queue, "routing_key": queue, "auto_delete": True}},
        broker_transport_options={"polling_interval": POLL_INTERVAL},
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )

    def register(fn: Any, name: str, **options: Any) -> Any:
        return app.task(name=name, bind=True, shared=False, **options)(fn)

    tasks = DemoTasks(
        build_report=register(build_report, "demo.build_report"),
        notify=register(notify, NOTIFY),
        export=register(export, "demo.export", max_retries=2),
        housekeeping=register(housekeeping, "demo.housekeeping"),
    )
    install(app)
    return app, tasks


def _ready_worker_class() -> Any:
    """A WorkController subclass that says when its consumer is ready to take tasks."""
    from celery.worker import WorkController

    class ReadyWorker(WorkController):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.ready = threading.Event()
            super().__init__(*args, **kwargs)

        def on_consumer_ready(self, consumer: Any) -> None:
            self.ready.set()

    return ReadyWorker


@contextmanager
def running_worker(app: Any) -> Iterator[None]:
    """Run a worker for ``app`` in a daemon thread for the block (threads pool, 2 slots).

    Stopping a worker on an embedded broker takes seconds while it drains its
    polling loop; the demo only waits :data:`WORKER_STOP_TIMEOUT` for it and
    leaves the rest to the daemon thread, and uninstalls ctxcarry from the app.
    """
    from ctxcarry.adapters.celery import uninstall  # type: ignore[import-not-found, unused-ignore]

    app.finalize()
    # The worker's task tracer looks tasks up in the current (and, in pool threads,
    # the default) app, as Celery's own embedded test worker arranges.
    app.set_current()
    app.set_default()
    worker = _ready_worker_class()(
        app=app,
        pool="threads",
        concurrency=2,
        hostname=f"ctxcarry-demo-{uuid.uuid4().hex[:8]}@localhost",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="ERROR",
    )
    thread = threading.Thread(target=worker.start, name="ctxcarry-demo-worker", daemon=True)
    thread.start()
    try:
        if not worker.ready.wait(WORKER_START_TIMEOUT):
            raise RuntimeError(f"the Celery worker did not start within {WORKER_START_TIMEOUT} s")
        yield
    finally:
        # Stopping can block for seconds (embedded broker) or longer (AMQP): do it in a
        # daemon thread and wait only briefly; the process may exit before it ends.
        stopper = threading.Thread(target=worker.stop, kwargs={"in_sighandler": False}, daemon=True)
        stopper.start()
        stopper.join(WORKER_STOP_TIMEOUT)
        uninstall(app)
