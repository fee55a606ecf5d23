"""The demo on arq: a pool and a worker with ctxcarry's serializers, on a Redis of yours.

arq has no in-memory broker: ``--broker`` names a Redis (``redis://localhost:6379/0``
by default). The worker runs on an event loop in a thread of this process, on a
queue of its own; every key the demo made (its queue, its jobs, the worker's
health check) is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from .. import journey

__all__ = ["ArqDemo", "open_queue"]

#: Longest wait for one enqueue, or for the loop and worker to start or stop (s).
LOOP_TIMEOUT = 5.0


class ArqDemo:
    """The journey on arq jobs, run by a worker on an event loop in a thread."""

    expected_runs = journey.EXPECTED_RUNS

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.description = "arq (an in-process worker on its own event loop)"
        self.queue_name = f"ctxcarry-demo-{uuid.uuid4().hex}"
        # Imported here: no module of the ctxcarry package imports a framework at import time.
        from arq.connections import RedisSettings

        from ctxcarry.adapters import arq as adapter  # type: ignore[attr-defined, import-not-found, unused-ignore]

        self._adapter = adapter
        self._settings = RedisSettings.from_dsn(broker)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ctxcarry-demo-arq", daemon=True
        )
        self._thread.start()
        self._pool: Any = None
        self._worker: Any = None
        self._worker_task: Any = None
        adapter.install()

    def _job_id(self) -> str:
        """Job ids that name the demo's queue, so that cleaning up finds every key."""
        return f"{self.queue_name}:{uuid.uuid4().hex}"

    def _functions(self) -> list[Any]:
        from arq import Retry
        from arq.worker import func

        queue, job_id = self.queue_name, self._job_id

        async def notify(ctx: dict[str, Any], report: str) -> None:
            journey.notify(report)

        async def build_report(ctx: dict[str, Any], report: str) -> None:
            to_notify: list[str] = []
            journey.build_report(report, to_notify.append)
            for name in to_notify:  # enqueued from the job: it inherits the job's context
                await ctx["redis"].enqueue_job("notify", name, _queue_name=queue, _job_id=job_id())

        async def export(ctx: dict[str, Any], report: str) -> None:
            if not journey.export(report, ctx["job_try"]):
                raise Retry(defer=0.01)

        async def housekeeping(ctx: dict[str, Any]) -> None:
            journey.housekeeping()

        return [
            func(coroutine, name=coroutine.__name__)
            for coroutine in (notify, build_report, export, housekeeping)
        ]

    def _on_loop(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coroutine`` on the demo's loop, in a copy of the caller's context."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(LOOP_TIMEOUT)

    def check_broker(self) -> None:
        try:
            from arq import create_pool

            pool = create_pool(self._settings, **self._adapter.pool_options())
            self._pool = self._on_loop(pool)
        except Exception as exc:
            raise ConnectionError(f"{type(exc).__name__}: {str(exc)[:160]}") from None

    def _enqueue(self, function: str, *args: Any) -> None:
        self._on_loop(
            self._pool.enqueue_job(
                function, *args, _queue_name=self.queue_name, _job_id=self._job_id()
            )
        )

    def enqueue_for_request(self, report: str) -> None:
        self._enqueue("build_report", report)
        self._enqueue("export", report)

    def enqueue_unrelated(self) -> None:
        self._enqueue("housekeeping")

    def adapter_installed(self, installed: bool) -> None:
        if installed:
            self._adapter.install()
        else:
            self._adapter.uninstall()

    async def _start_worker(self) -> None:
        from arq.worker import Worker

        settings = self._adapter.worker_settings(
            {
                "functions": self._functions(),
                "redis_settings": self._settings,
                "queue_name": self.queue_name,
                "poll_delay": 0.05,
                "handle_signals": False,
                "keep_result": 0,
                "max_tries": 3,
            }
        )
        self._worker = Worker(**settings)
        self._worker_task = asyncio.ensure_future(self._worker.async_run())

    async def _stop_worker(self) -> None:
        self._worker_task.cancel()
        await asyncio.gather(self._worker_task, return_exceptions=True)
        await self._worker.close()
        client = self._pool
        async for key in client.scan_iter(match=f"*{self.queue_name}*", count=1000):
            await client.delete(key)
        await client.aclose()

    @contextmanager
    def running(self) -> Iterator[None]:
        arq_logger = logging.getLogger("arq")
        saved_level = arq_logger.level
        arq_logger.setLevel(logging.CRITICAL)  # the planned retry is not news
        self._on_loop(self._start_worker())
        try:
            yield
        finally:
            try:
                self._on_loop(self._stop_worker())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(LOOP_TIMEOUT)
                self._adapter.uninstall()
                arq_logger.setLevel(saved_level)


def open_queue(broker: str) -> ArqDemo:
    """The demo queue on arq (the ``--queue arq`` entry point)."""
    return ArqDemo(broker)
