"""The broker and actors the tests send to and the ``dramatiq`` workers run: one factory.

Every actor pushes :func:`seen` (what it saw, as JSON) onto a Redis list in
this area's database, so a worker in another process can report it; the test
pops the reports. ``tests/dramatiq/worker_app.py`` builds the same broker and
actors for ``dramatiq`` subprocesses from environment variables.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage, GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend
from opentelemetry import trace

from ctxcarry import QueueVar
from ctxcarry.adapters.dramatiq import install

tenant: QueueVar[str | None] = QueueVar("dramatiq_tests.tenant", default=None)

_tracer = trace.get_tracer("ctxcarry-dramatiq-tests")
_log = structlog.get_logger("dramatiq_tests")

#: Retry backoff for the tests' actors (milliseconds).
BACKOFF = {"min_backoff": 50, "max_backoff": 100}


class Flaky(Exception):
    """Raised by an actor until it has been retried enough."""


def seen(label: str, **extra: Any) -> dict[str, Any]:
    """What the running code sees: the QueueVar, structlog keys, the span, the message."""
    span = trace.get_current_span().get_span_context()
    message = CurrentMessage.get_current_message()
    report: dict[str, Any] = {
        "label": label,
        "tenant": tenant.get(),
        "log": dict(structlog.contextvars.get_contextvars()),
        "trace_id": f"{span.trace_id:032x}" if span.is_valid else None,
        "span_id": f"{span.span_id:016x}" if span.is_valid else None,
        "message_id": message.message_id if message is not None else None,
        "retries": message.options.get("retries", 0) if message is not None else None,
        "group": message.options.get("group_completion_uuid") if message is not None else None,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
    }
    report.update(extra)
    return report


def dirty(label: str) -> None:
    """Bind and set things a task never undoes itself (the adapter must)."""
    structlog.contextvars.bind_contextvars(leaked_key=label)
    tenant.set(f"leaked-{label}")


@dataclass
class App:
    """A broker with the test actors, and where their reports go."""

    broker: dramatiq.Broker
    kind: str
    url: str
    queue: str
    report_key: str
    reports: redis.Redis
    actors: dict[str, dramatiq.Actor[Any, Any]]

    def __getattr__(self, name: str) -> dramatiq.Actor[Any, Any]:
        try:
            return self.actors[name]
        except KeyError:
            raise AttributeError(name) from None

    def report(self, payload: dict[str, Any]) -> None:
        self.reports.rpush(self.report_key, json.dumps(payload))

    def collect(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Pop ``count`` reports (in arrival order); fail if they do not come in time."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            item = self.reports.blpop([self.report_key], timeout=timeout)
            if item is None:
                raise AssertionError(f"only {len(found)} of {count} reports arrived: {found}")
            found.append(json.loads(item[1]))
        return found

    def nothing_more(self, wait: float = 0.5) -> None:
        """Assert no further report arrives within ``wait`` seconds."""
        item = self.reports.blpop([self.report_key], timeout=wait)
        assert item is None, f"unexpected report: {item!r}"

    def close(self) -> None:
        self.broker.close()
        self.reports.close()


def make_broker(kind: str, url: str, namespace: str) -> dramatiq.Broker:
    """A Redis (in ``namespace``) or RabbitMQ broker with the tests' middleware."""
    if kind == "redis":
        broker: dramatiq.Broker = RedisBroker(url=url, namespace=namespace)
    elif kind == "rabbitmq":
        broker = RabbitmqBroker(url=url, max_priority=10)
    else:
        raise ValueError(kind)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(CurrentMessage())
    return broker


def build_app(
    kind: str,
    url: str,
    namespace: str,
    queue: str,
    report_url: str,
    *,
    installed: bool = True,
) -> App:
    """The broker, ctxcarry installed (unless told), and every test actor on ``queue``."""
    broker = make_broker(kind, url, namespace)
    backend = RedisBackend(url=report_url)
    try:
        group_callbacks = GroupCallbacks(backend, barrier_ttl=120_000)
    except TypeError:  # Dramatiq 1.x: no barrier_ttl (barriers then last a day)
        group_callbacks = GroupCallbacks(backend)
    broker.add_middleware(group_callbacks)
    if installed:
        install(broker)
    app = App(
        broker=broker,
        kind=kind,
        url=url,
        queue=queue,
        report_key=f"{namespace}:seen:{queue}",
        reports=redis.Redis.from_url(report_url),
        actors={},
    )
    _declare(app)
    return app


def _declare(app: App) -> None:
    def actor(**options: Any) -> Any:
        def declare(fn: Any) -> Any:
            declared = dramatiq.actor(
                fn,
                broker=app.broker,
                queue_name=app.queue,
                actor_name=fn.__name__,
                **options,
            )
            app.actors[fn.__name__] = declared
            return declared

        return declare

    @actor(max_retries=3, **BACKOFF)
    def probe(label: str, fail_times: int = 0) -> None:
        report = seen(label)
        app.report(report)
        dirty(label)
        if report["retries"] < fail_times:
            raise Flaky(label)

    @actor(max_retries=0)
    def broken(label: str) -> None:
        app.report(seen(label))
        dirty(label)
        raise Flaky(label)

    @actor(max_retries=0)
    def parent(label: str) -> None:
        structlog.contextvars.bind_contextvars(parent_bound=label)
        with _tracer.start_as_current_span("parent-span"):
            app.report(seen(label))
            app.actors["child"].send(f"{label}.child")
        dirty(label)

    @actor(max_retries=0)
    def child(label: str) -> None:
        app.report(seen(label))
        dirty(label)

    @actor(max_retries=0)
    def step(label: str, previous: Any = None) -> str:
        app.report(seen(label, previous=previous))
        structlog.contextvars.bind_contextvars(step_bound=label)
        return label

    @actor(max_retries=0)
    def on_done(message_data: dict[str, Any], outcome: Any) -> None:
        app.report(seen("callback", of=message_data.get("message_id"), outcome=outcome))
        dirty("callback")

    @actor(max_retries=0)
    async def async_probe(label: str) -> None:
        app.report(seen(label))
        dirty(label)

    @actor(max_retries=0)
    async def async_parent(label: str) -> None:
        app.report(seen(label))
        app.actors["child"].send(f"{label}.child")
        dirty(label)

    @actor(max_retries=0)
    def direct_caller(label: str) -> None:
        structlog.contextvars.bind_contextvars(outer=label)
        before = seen(label)
        app.actors["probe"](f"{label}.inline")  # a direct call, inside a worker run
        app.report(seen(label, before=before))

    @actor(max_retries=1, **BACKOFF)
    def logs(label: str, fail: bool = False) -> None:
        _log.info("actor log line", label=label)
        app.report(seen(label))
        if fail and CurrentMessage.get_current_message().options.get("retries", 0) == 0:
            raise Flaky(label)
