"""The demo on RQ: jobs with ctxcarry's adapter, and a SimpleWorker in this process.

RQ has no in-memory broker: ``--broker`` names a Redis (``redis://localhost:6379/0``
by default). A ``SimpleWorker`` runs the jobs in a thread of this process (it
performs each job in its own process, no fork), burst after burst, on a queue of
its own; every key the demo made is deleted afterwards.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import journey

__all__ = ["RQDemo", "open_queue"]

#: Pause between two bursts of the worker (s).
POLL_INTERVAL = 0.05
#: Longest wait for the worker thread to finish its last burst (s).
STOP_TIMEOUT = 5.0
_RETRIES = 1


# Job functions are found by their import path: they live at module level.
def notify_job(report: str) -> None:
    journey.notify(report)


def build_report_job(report: str) -> None:
    from rq import Queue, get_current_job

    job = get_current_job()
    assert job is not None
    queue = Queue(job.origin, connection=job.connection)
    journey.build_report(
        report, lambda name: queue.enqueue(notify_job, name, job_id=_job_id(job.origin))
    )


def export_job(report: str) -> None:
    from rq import get_current_job

    job = get_current_job()
    retries_left = job.retries_left if job is not None and job.retries_left is not None else 0
    if not journey.export(report, _RETRIES - retries_left + 1):
        raise RuntimeError("storage busy")  # rq's Retry sends it again at once


def housekeeping_job() -> None:
    journey.housekeeping()


def _job_id(queue_name: str) -> str:
    """Job ids that name the demo's queue, so that cleaning up finds every key."""
    return f"{queue_name}-{uuid.uuid4().hex}"


def _thread_worker(*args: Any, **kwargs: Any) -> Any:
    """A SimpleWorker that can run in a thread: signals belong to the main thread.

    Its job timeouts use RQ's timer-based death penalty instead of ``SIGALRM``.
    """
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class ThreadWorker(SimpleWorker):  # type: ignore[misc, unused-ignore]
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:
            pass

    return ThreadWorker(*args, **kwargs)


class RQDemo:
    """The journey on RQ jobs, run by a SimpleWorker in a thread of this process."""

    expected_runs = journey.EXPECTED_RUNS

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.description = "RQ (a SimpleWorker in this process)"
        self.queue_name = f"ctxcarry-demo-{uuid.uuid4().hex}"
        # Imported here: no module of the ctxcarry package imports a framework at import time.
        from redis import Redis
        from rq import Queue

        from ctxcarry.adapters import rq as adapter  # type: ignore[attr-defined, import-not-found, unused-ignore]

        self._adapter = adapter
        self._redis = Redis.from_url(broker)
        self._queue = Queue(self.queue_name, connection=self._redis)
        self._stop = threading.Event()
        adapter.install()

    def check_broker(self) -> None:
        try:
            self._redis.ping()
        except Exception as exc:
            raise ConnectionError(f"{type(exc).__name__}: {str(exc)[:160]}") from None

    def _enqueue(self, function: Any, *args: Any, **options: Any) -> None:
        self._queue.enqueue(function, *args, job_id=_job_id(self.queue_name), **options)

    def enqueue_for_request(self, report: str) -> None:
        self._enqueue(build_report_job, report)
        from rq import Retry

        self._enqueue(export_job, report, retry=Retry(max=_RETRIES))

    def enqueue_unrelated(self) -> None:
        self._enqueue(housekeeping_job)

    def adapter_installed(self, installed: bool) -> None:
        if installed:
            self._adapter.install()
        else:
            self._adapter.uninstall()

    def _work(self) -> None:
        worker = _thread_worker([self._queue], connection=self._redis, name=self.queue_name)
        while not self._stop.is_set():
            worker.work(burst=True, logging_level="CRITICAL")
            self._stop.wait(POLL_INTERVAL)

    @contextmanager
    def running(self) -> Iterator[None]:
        rq_logger = logging.getLogger("rq")
        saved_level = rq_logger.level
        rq_logger.setLevel(logging.CRITICAL)  # the planned failure is not news
        thread = threading.Thread(target=self._work, name="ctxcarry-demo-rq", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(STOP_TIMEOUT)
            self._adapter.uninstall()
            rq_logger.setLevel(saved_level)
            self._clean_broker()

    def _clean_broker(self) -> None:
        """Delete every key that names the demo's queue, and its entries in rq's sets."""
        try:
            for key in self._redis.scan_iter(match=f"*{self.queue_name}*", count=1000):
                self._redis.delete(key)
            self._redis.srem("rq:queues", f"rq:queue:{self.queue_name}")
            self._redis.srem("rq:workers", f"rq:worker:{self.queue_name}")
            self._redis.close()
        except Exception:  # cleaning up must never turn a good run into an error
            pass


def open_queue(broker: str) -> RQDemo:
    """The demo queue on RQ (the ``--queue rq`` entry point)."""
    return RQDemo(broker)
