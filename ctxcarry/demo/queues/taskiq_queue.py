"""The demo on Taskiq: a broker with ctxcarry's middleware, the journey's tasks, an event loop.

The broker is Taskiq's ``InMemoryBroker`` with one change: each task starts in
an empty context, as it would in a ``taskiq worker`` process. (The stock
in-memory broker runs a task in a copy of the sender's context, which would
show the request's context on the worker even without ctxcarry.) Tasks run on
an event loop in a thread of their own; the retry is Taskiq's
``SimpleRetryMiddleware``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from .. import journey
from . import DemoError

__all__ = ["TaskiqDemo", "open_queue"]

#: Longest wait for one send, or for the loop to start or stop (s).
LOOP_TIMEOUT = 5.0


def _worker_like_broker() -> Any:
    """An in-memory broker whose tasks start in an empty context, as in a worker process."""
    from taskiq import InMemoryBroker
    from taskiq.exceptions import UnknownTaskError

    class WorkerLikeBroker(InMemoryBroker):  # type: ignore[misc, unused-ignore]
        def __init__(self) -> None:
            super().__init__()
            self._tasks: set[asyncio.Task[Any]] = set()

        async def kick(self, message: Any) -> None:
            if self.find_task(message.task_name) is None:
                raise UnknownTaskError(task_name=message.task_name)
            callback = self.receiver.callback(message=message.message)
            task = contextvars.Context().run(asyncio.ensure_future, callback)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    return WorkerLikeBroker()


class _ExportBusy(Exception):
    """The export's first attempt fails; SimpleRetryMiddleware sends it again."""


class TaskiqDemo:
    """The journey on Taskiq tasks, run by an event loop in a thread."""

    expected_runs = journey.EXPECTED_RUNS
    broker = ""

    def __init__(self, broker: str) -> None:
        if broker:
            raise DemoError("the Taskiq demo runs on its in-memory broker: leave out --broker")
        self.description = "Taskiq (an event loop in a thread, in-memory broker)"
        # Imported here: no module of the ctxcarry package imports a framework at import time.
        from taskiq import Context, SimpleRetryMiddleware, TaskiqDepends

        from ctxcarry.adapters import taskiq as adapter  # type: ignore[attr-defined, import-not-found, unused-ignore]

        self._adapter = adapter
        self._broker = _worker_like_broker().with_middlewares(
            SimpleRetryMiddleware(default_retry_count=3)
        )
        adapter.install(self._broker)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

        task: Any = self._broker.task

        async def notify_task(report: str) -> None:
            journey.notify(report)

        notify: Any = task(task_name="demo.notify")(notify_task)

        async def build_report_task(report: str) -> None:
            to_notify: list[str] = []
            journey.build_report(report, to_notify.append)
            for name in to_notify:
                await notify.kiq(name)

        async def export_task(report: str, context: Any = TaskiqDepends()) -> None:  # noqa: B008
            attempt = int(context.message.labels.get("_retries", 0)) + 1
            if not journey.export(report, attempt):
                raise _ExportBusy(report)

        # Taskiq injects the running task's Context by this annotation, read as an object
        # (this module's string annotations cannot name a class imported only here).
        export_task.__annotations__.update(report=str, context=Context)

        async def housekeeping_task() -> None:
            journey.housekeeping()

        build_report: Any = task(task_name="demo.build_report")(build_report_task)
        export: Any = task(task_name="demo.export", retry_on_error=True, max_retries=3)(export_task)
        housekeeping: Any = task(task_name="demo.housekeeping")(housekeeping_task)
        self._build_report, self._export, self._housekeeping = build_report, export, housekeeping

    def check_broker(self) -> None:
        return None  # in memory: always there

    def _on_loop(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coroutine`` on the demo's loop, in a copy of the caller's context."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(LOOP_TIMEOUT)

    def enqueue_for_request(self, report: str) -> None:
        self._on_loop(self._build_report.kiq(report))
        self._on_loop(self._export.kiq(report))

    def enqueue_unrelated(self) -> None:
        self._on_loop(self._housekeeping.kiq())

    def adapter_installed(self, installed: bool) -> None:
        if installed:
            self._adapter.install(self._broker)
        else:
            self._adapter.uninstall(self._broker)

    @contextmanager
    def running(self) -> Iterator[None]:
        taskiq_logger = logging.getLogger("taskiq")
        saved_level = taskiq_logger.level
        taskiq_logger.setLevel(logging.CRITICAL)  # the planned failure is not news
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ctxcarry-demo-taskiq", daemon=True
        )
        self._thread.start()
        self._on_loop(self._broker.startup())
        try:
            yield
        finally:
            try:
                self._on_loop(self._broker.shutdown())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(LOOP_TIMEOUT)
                self._adapter.uninstall(self._broker)
                taskiq_logger.setLevel(saved_level)


def open_queue(broker: str) -> TaskiqDemo:
    """The demo queue on Taskiq (the ``--queue taskiq`` entry point)."""
    return TaskiqDemo(broker)
