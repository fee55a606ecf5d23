"""The demo on Celery: an app with ctxcarry installed, the journey's tasks, a worker thread.

Tasks log through structlog: the Celery adapter restored the request's
context before each task, so the lines carry the request id, tenant and trace
id of the request that caused them -- also for the task a task enqueues and
for the second attempt of a task that retried.

Celery is imported when the demo queue is opened, never when this module is:
no module of the ctxcarry package imports a framework at import time.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import journey

__all__ = ["CeleryDemo", "open_queue"]

#: How often the in-process worker polls an embedded broker (kombu's default is 1 s).
POLL_INTERVAL = 0.05
#: Longest wait for the worker to start before the demo gives up.
WORKER_START_TIMEOUT = 10.0
#: How long a stopping worker may take before the demo moves on (its thread is a daemon).
WORKER_STOP_TIMEOUT = 1.0


class CeleryDemo:
    """The journey on a Celery app whose queue has a name of its own."""

    expected_runs = journey.EXPECTED_RUNS

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.unique = f"ctxcarry-demo-{uuid.uuid4().hex}"
        from celery import Celery

        from ctxcarry.adapters import celery as adapter  # type: ignore[attr-defined, import-not-found, unused-ignore]

        self._adapter = adapter
        self.description = "Celery (an in-process worker, threads pool)"
        app = Celery(self.unique, broker=broker, set_as_current=False)
        app.conf.update(
            task_ignore_result=True,
            task_default_queue=self.unique,
            task_queues={
                self.unique: {
                    "exchange": self.unique,
                    "routing_key": self.unique,
                    "auto_delete": True,
                }
            },
            broker_transport_options={"polling_interval": POLL_INTERVAL},
            broker_connection_retry_on_startup=False,
            broker_connection_max_retries=0,
            worker_hijack_root_logger=False,
            worker_redirect_stdouts=False,
            worker_enable_remote_control=False,  # no pidbox keys left on a Redis broker
        )

        def register(fn: Any, name: str, **options: Any) -> Any:
            return app.task(name=name, shared=False, **options)(fn)

        notify = register(journey.notify, "demo.notify")

        def build_report_task(report: str) -> None:
            journey.build_report(report, notify.delay)

        def export_task(task: Any, report: str) -> None:
            if not journey.export(report, task.request.retries + 1):
                raise task.retry(countdown=0)

        build_report = register(build_report_task, "demo.build_report")
        export = register(export_task, "demo.export", bind=True, max_retries=2)
        housekeeping = register(journey.housekeeping, "demo.housekeeping")
        self.app = app
        self._build_report, self._export, self._housekeeping = build_report, export, housekeeping
        adapter.install(app)

    def check_broker(self) -> None:
        """Raise ``ConnectionError`` with a one-line reason when the broker does not answer."""
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:
            raise ConnectionError(f"{type(exc).__name__}: {str(exc)[:160]}") from None

    def enqueue_for_request(self, report: str) -> None:
        self._build_report.delay(report)
        self._export.delay(report)

    def enqueue_unrelated(self) -> None:
        self._housekeeping.delay()

    def adapter_installed(self, installed: bool) -> None:
        if installed:
            self._adapter.install(self.app)
        else:
            self._adapter.uninstall(self.app)

    @contextmanager
    def running(self) -> Iterator[None]:
        try:
            with running_worker(self.app):
                yield
        finally:
            self._adapter.uninstall(self.app)
            self._clean_broker()

    def _clean_broker(self) -> None:
        """Delete what the demo left on a Redis broker: every key that names its queue."""
        if not self.broker.startswith(("redis://", "rediss://")):
            return  # memory:// dies with the process; AMQP queues are auto-deleted
        try:
            with self.app.connection_for_write() as connection:
                client = connection.default_channel.client
                for key in client.scan_iter(match=f"*{self.unique}*", count=1000):
                    client.delete(key)
        except Exception:  # cleaning up must never turn a good run into an error
            pass


def open_queue(broker: str) -> CeleryDemo:
    """The demo queue on Celery (the ``--queue celery`` entry point)."""
    return CeleryDemo(broker)


def _ready_worker(**options: Any) -> Any:
    """A Celery worker that says (``worker.ready``) when its consumer takes tasks."""
    from celery.worker import WorkController

    class ReadyWorker(WorkController):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.ready = threading.Event()
            super().__init__(*args, **kwargs)

        def on_consumer_ready(self, consumer: Any) -> None:
            self.ready.set()

    return ReadyWorker(**options)


@contextmanager
def running_worker(app: Any) -> Iterator[None]:
    """Run a worker for ``app`` in a daemon thread for the block (threads pool, 2 slots).

    Stopping a worker on an embedded broker takes seconds while it drains its
    polling loop; the demo only waits :data:`WORKER_STOP_TIMEOUT` for it and
    leaves the rest to the daemon thread.
    """
    app.finalize()
    # The worker's task tracer looks tasks up in the current (and, in pool threads,
    # the default) app, as Celery's own embedded test worker arranges.
    app.set_current()
    app.set_default()
    worker = _ready_worker(
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
