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

from taskiq import Context, InMemoryBroker, SimpleRetryMiddleware, TaskiqDepends
from taskiq.exceptions import UnknownTaskError

from ctxcarry.adapters.taskiq import install, uninstall  # type: ignore[import-not-found, unused-ignore]

from .. import journey
from . import DemoError

__all__ = ["TaskiqDemo", "open_queue"]

#: Longest wait for one send, or for the loop to start or stop (s).
LOOP_TIMEOUT = 5.0


class _WorkerLikeBroker(InMemoryBroker):
    """An in-memory broker whose tasks start in an empty context, as in a worker process."""

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


#: Taskiq's dependency marker for the running task's context (a module-level default).
_TASK_CONTEXT: Any = TaskiqDepends()


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
        self._broker = _WorkerLikeBroker().with_middlewares(
            SimpleRetryMiddleware(default_retry_count=3)
        )
        install(self._broker)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

        @self._broker.task(task_name="demo.notify")
        async def notify(report: str) -> None:
            journey.notify(report)

        @self._broker.task(task_name="demo.build_report")
        async def build_report(report: str) -> None:
            to_notify: list[str] = []
            journey.build_report(report, to_notify.append)
            for name in to_notify:
                await notify.kiq(name)

        @self._broker.task(task_name="demo.export", retry_on_error=True, max_retries=3)
        async def export(report: str, context: Context = _TASK_CONTEXT) -> None:
            attempt = int(context.message.labels.get("_retries", 0)) + 1
            if not journey.export(report, attempt):
                raise _ExportBusy(report)

        @self._broker.task(task_name="demo.housekeeping")
        async def housekeeping() -> None:
            journey.housekeeping()

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
            install(self._broker)
        else:
            uninstall(self._broker)

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
                uninstall(self._broker)
                taskiq_logger.setLevel(saved_level)


def open_queue(broker: str) -> TaskiqDemo:
    """The demo queue on Taskiq (the ``--queue taskiq`` entry point)."""
    return TaskiqDemo(broker)
