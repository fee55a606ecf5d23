"""The demo on Dramatiq: a broker with ctxcarry's middleware, the journey's actors, a worker.

Without ``--broker`` the broker is Dramatiq's ``StubBroker`` (in memory, the
one Dramatiq recommends for tests); ``redis://`` and ``amqp://`` URLs use the
real brokers. The worker runs in this process (two threads); the actors have a
queue of their own, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import journey

__all__ = ["DramatiqDemo", "open_queue"]

#: How long the worker waits for a message before it looks again (ms).
WORKER_TIMEOUT_MS = 50


def _make_broker(url: str) -> Any:
    from dramatiq.brokers.stub import StubBroker

    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)  # type: ignore[no-untyped-call]
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    return StubBroker()


class DramatiqDemo:
    """The journey on Dramatiq actors, on a queue of their own."""

    expected_runs = journey.EXPECTED_RUNS

    def __init__(self, broker: str) -> None:
        self.broker = broker
        self.description = "Dramatiq (an in-process worker, two threads)"
        self.queue_name = f"ctxcarry-demo-{uuid.uuid4().hex}"
        # Imported here: no module of the ctxcarry package imports a framework at import time.
        import dramatiq
        from dramatiq.middleware import CurrentMessage

        from ctxcarry.adapters import dramatiq as adapter  # type: ignore[attr-defined, import-not-found, unused-ignore]

        self._adapter = adapter
        self._broker = _make_broker(broker)
        self._in_memory = self._broker.__class__.__name__ == "StubBroker"
        self._broker.add_middleware(CurrentMessage())
        adapter.install(self._broker)

        def actor(fn: Any, name: str, **options: Any) -> Any:
            decorate = dramatiq.actor(
                broker=self._broker, actor_name=name, queue_name=self.queue_name, **options
            )
            return decorate(fn)

        notify = actor(journey.notify, "demo_notify")

        def build_report(report: str) -> None:
            journey.build_report(report, notify.send)

        def export(report: str) -> None:
            message = CurrentMessage.get_current_message()
            attempt = (message.options.get("retries", 0) if message else 0) + 1
            if not journey.export(report, attempt):
                raise dramatiq.Retry(delay=10)  # retried without an error log line

        self._build_report = actor(build_report, "demo_build_report")
        self._export = actor(export, "demo_export", max_retries=2)
        self._housekeeping = actor(journey.housekeeping, "demo_housekeeping")

    def check_broker(self) -> None:
        if self._in_memory:
            return
        try:
            self._broker.declare_queue(self.queue_name)
        except Exception as exc:
            raise ConnectionError(f"{type(exc).__name__}: {str(exc)[:160]}") from None

    def enqueue_for_request(self, report: str) -> None:
        self._build_report.send(report)
        self._export.send(report)

    def enqueue_unrelated(self) -> None:
        self._housekeeping.send()

    def adapter_installed(self, installed: bool) -> None:
        if installed:
            self._adapter.install(self._broker)
        else:
            self._adapter.uninstall(self._broker)

    @contextmanager
    def running(self) -> Iterator[None]:
        self._broker.emit_after("process_boot")
        from dramatiq import Worker

        worker = Worker(self._broker, worker_threads=2, worker_timeout=WORKER_TIMEOUT_MS)
        worker.start()
        try:
            yield
        finally:
            worker.stop()
            self._adapter.uninstall(self._broker)
            self._clean_broker()

    def _clean_broker(self) -> None:
        """Delete the demo's queues from a real broker; close its connections."""
        try:
            if not self._in_memory:
                self._broker.flush(self.queue_name)
                delete = getattr(self._broker, "channel", None)
                if delete is not None:
                    for queue in (
                        self.queue_name,
                        f"{self.queue_name}.DQ",
                        f"{self.queue_name}.XQ",
                    ):
                        delete.queue_delete(queue)
            self._broker.close()
        except Exception:  # cleaning up must never turn a good run into an error
            pass


def open_queue(broker: str) -> DramatiqDemo:
    """The demo queue on Dramatiq (the ``--queue dramatiq`` entry point)."""
    return DramatiqDemo(broker)
