"""In-process: install/uninstall, direct calls, and the StubBroker pattern users test with.

The StubBroker with a real ``dramatiq.Worker`` in this process is how users test
their actors (see the Testing section of docs/adapters/dramatiq.md); these tests
run that pattern and the direct-call guarantees, which need no broker at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO
from opentelemetry import trace

from ctxcarry import Carrier, QueueVar
from ctxcarry.adapters.dramatiq import (
    OPTION,
    ContextMiddleware,
    install,
    is_installed,
    uninstall,
)
from ctxcarry.testing import assert_no_leak

stub_tenant: QueueVar[str | None] = QueueVar("dramatiq_stub.tenant", default=None)


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.add_middleware(AsyncIO())
    broker.emit_after("process_boot")
    install(broker)
    yield broker
    uninstall(broker)
    broker.close()


@pytest.fixture
def worker(broker: StubBroker) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


def snapshot() -> dict[str, Any]:
    return {"tenant": stub_tenant.get(), "log": dict(structlog.contextvars.get_contextvars())}


def declare(broker: StubBroker, seen: list[dict[str, Any]], name: str = "probe") -> Any:
    def probe(label: str) -> None:
        seen.append({"label": label, **snapshot()})
        structlog.contextvars.bind_contextvars(body_bound=label)
        stub_tenant.set(f"leaked-{label}")

    probe.__name__ = name
    return dramatiq.actor(probe, broker=broker, actor_name=name, max_retries=0)


def test_install_is_idempotent_and_uninstall_undoes_it() -> None:
    broker = StubBroker()
    assert not is_installed(broker)
    install(broker)
    install(broker)
    middlewares = [m for m in broker.middleware if isinstance(m, ContextMiddleware)]
    assert len(middlewares) == 1
    assert broker.middleware[0] is middlewares[0]
    strict = Carrier(strict=True)
    install(broker, strict)
    assert middlewares[0].installation.carrier is strict
    install(broker)  # without a Carrier: changes nothing
    assert middlewares[0].installation.carrier is strict

    probe = dramatiq.actor(lambda: None, broker=broker, actor_name="installed_probe")
    original = probe.fn.__wrapped__
    uninstall(broker)
    uninstall(broker)
    assert not is_installed(broker)
    assert not any(isinstance(m, ContextMiddleware) for m in broker.middleware)
    assert probe.fn is original
    with pytest.raises(TypeError):
        install(broker, carrier="not a carrier")  # type: ignore[arg-type]
    broker.close()


def test_actors_declared_before_install_are_guarded_too() -> None:
    broker = StubBroker()
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    install(broker)
    with assert_no_leak():
        probe("direct")
    uninstall(broker)
    broker.close()


def test_direct_call_leaves_the_caller_exactly_intact(broker: StubBroker) -> None:
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    structlog.contextvars.bind_contextvars(request_id="req-direct")
    with stub_tenant("caller-co"):
        probe("direct")
        assert stub_tenant.get() == "caller-co"
        assert structlog.contextvars.get_contextvars() == {"request_id": "req-direct"}
    assert seen == [{"label": "direct", "tenant": "caller-co", "log": {"request_id": "req-direct"}}]


def test_direct_call_that_raises_leaves_the_caller_intact(broker: StubBroker) -> None:
    @dramatiq.actor(broker=broker, actor_name="raises")
    def raises() -> None:
        structlog.contextvars.bind_contextvars(body_bound=True)
        raise ValueError("boom")

    with assert_no_leak(), pytest.raises(ValueError, match="boom"):
        raises()


def test_direct_call_of_an_async_actor(broker: StubBroker, worker: dramatiq.Worker) -> None:
    """An async actor called directly runs on the worker's event loop thread."""
    seen: list[dict[str, Any]] = []

    @dramatiq.actor(broker=broker, actor_name="async_direct")
    async def async_direct() -> None:
        await asyncio.sleep(0)
        seen.append(snapshot())
        structlog.contextvars.bind_contextvars(body_bound=True)

    with stub_tenant("async-caller"), assert_no_leak():
        async_direct()
    assert seen == [{"tenant": "async-caller", "log": {}}]


def test_direct_call_without_the_adapter_leaks_into_the_caller() -> None:
    """Why the guard exists: Dramatiq runs a direct call in the caller's context."""
    broker = StubBroker()
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    probe("unguarded")
    assert structlog.contextvars.get_contextvars() == {"body_bound": "unguarded"}
    assert stub_tenant.get() == "leaked-unguarded"
    stub_tenant.clear()  # what the guard would have done
    broker.close()


def test_stub_broker_and_worker_the_way_users_test(
    broker: StubBroker, worker: dramatiq.Worker
) -> None:
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    structlog.contextvars.bind_contextvars(request_id="req-stub")
    with stub_tenant("stub-co"):
        message = probe.send("first")
    structlog.contextvars.clear_contextvars()
    probe.send("second")
    broker.join(probe.queue_name, fail_fast=True)
    worker.join()
    first, second = sorted(seen, key=lambda entry: entry["label"])
    assert first["tenant"] == "stub-co"
    assert first["log"] == {
        "request_id": "req-stub",
        "task_id": message.message_id,
        "task_name": "probe",
    }
    assert second["tenant"] is None  # the worker thread was cleaned up after the first
    assert set(second["log"]) == {"task_id", "task_name"}
    assert message.options[OPTION]["structlog_context"] == {"request_id": "req-stub"}


def test_stub_worker_thread_is_clean_after_each_message(
    broker: StubBroker, worker: dramatiq.Worker
) -> None:
    """Probe the worker thread itself, after our after hook, with a later middleware."""
    after: list[dict[str, Any]] = []

    class Probe(dramatiq.Middleware):
        def after_ack(self, broker: Any, message: Any) -> None:  # consumer thread
            pass

        def before_process_message(self, broker: Any, message: Any) -> None:
            after.append(snapshot())  # runs after ours: sees the restored context

    broker.add_middleware(Probe())
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    with stub_tenant("a"):
        probe.send("one")
    broker.join(probe.queue_name)
    worker.join()
    probe.send("two")  # on the same (only) worker thread, after the first
    broker.join(probe.queue_name)
    worker.join()
    assert [entry["tenant"] for entry in after] == ["a", None]
    assert "body_bound" not in after[1]["log"]


def test_a_hook_that_fails_is_logged_and_the_message_still_runs(
    broker: StubBroker, worker: dramatiq.Worker, caplog: pytest.LogCaptureFixture
) -> None:
    """A strict Carrier refuses a bad carrier: logged, and the message runs clean."""
    install(broker, Carrier(strict=True))
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    bad = probe.message_with_options(args=("hostile",))
    bad.options[OPTION] = {"ctxcarry": "not an object", "traceparent": 12}
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        broker.enqueue(bad)
        probe.send("after")
        broker.join(probe.queue_name)
        worker.join()
    assert [entry["tenant"] for entry in seen] == [None, None]
    assert "body_bound" not in seen[1]["log"]
    assert seen[0]["log"]["task_name"] == "probe"  # refused carrier: identity still bound
    assert any("runs without its carrier" in record.getMessage() for record in caplog.records)


def test_enqueue_never_fails_because_of_what_is_bound(
    broker: StubBroker, worker: dramatiq.Worker, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    structlog.contextvars.bind_contextvars(unserialisable=object(), fine="yes")
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        probe.send("bound")
    structlog.contextvars.clear_contextvars()
    broker.join(probe.queue_name)
    worker.join()
    assert seen[0]["log"]["fine"] == "yes"
    assert "unserialisable" not in seen[0]["log"]
    assert any("unserialisable" in record.getMessage() for record in caplog.records)

    install(broker, Carrier(strict=True))  # strict: inject raises; logged, message still sent
    structlog.contextvars.bind_contextvars(unserialisable=object())
    probe.send("strict")
    structlog.contextvars.clear_contextvars()
    broker.join(probe.queue_name)
    worker.join()
    assert seen[1]["label"] == "strict"


def test_a_skipped_message_is_undone_too(
    broker: StubBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """AgeLimit skips a message after our hook restored it: ``after_skip_message`` undoes it.

    Its warning ("exceeded its age limit") is logged inside the restored context.
    """
    after: list[dict[str, Any]] = []

    class Probe(dramatiq.Middleware):
        def before_process_message(self, broker: Any, message: Any) -> None:
            after.append(snapshot())

    broker.add_middleware(Probe())
    seen: list[dict[str, Any]] = []
    probe = declare(broker, seen)
    structlog.contextvars.bind_contextvars(skipped_key="old")
    with stub_tenant("too-old"):
        probe.send_with_options(args=("skipped",), max_age=1)
    structlog.contextvars.clear_contextvars()
    probe.send("next")
    time.sleep(0.05)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        broker.join(probe.queue_name, fail_fast=False)  # the skipped one is dead-lettered
        worker.join()
    finally:
        worker.stop()
    assert [entry["label"] for entry in seen] == ["next"]
    assert seen[0]["tenant"] is None
    assert "skipped_key" not in seen[0]["log"]
    assert "skipped_key" not in after[-1]["log"]


def test_a_span_already_active_in_the_worker_wins_over_the_carried_trace(
    broker: StubBroker, worker: dramatiq.Worker, tracer: trace.Tracer
) -> None:
    """Instrumentation that starts a span before ours: the carried trace is not attached."""
    from opentelemetry import context as otel_context

    class Instrumentation(dramatiq.Middleware):
        def before_process_message(self, broker: Any, message: Any) -> None:
            span = tracer.start_span("instrumented-run")
            message._test_token = otel_context.attach(trace.set_span_in_context(span))
            message._test_span = span

        def after_process_message(self, broker: Any, message: Any, **_: Any) -> None:
            otel_context.detach(message._test_token)
            message._test_span.end()

    seen: list[dict[str, Any]] = []

    @dramatiq.actor(broker=broker, actor_name="traced")
    def traced() -> None:
        span = trace.get_current_span()
        seen.append({"span": span, **snapshot()})

    with stub_tenant("traced-co"), tracer.start_as_current_span("producer") as producer:
        traced.send()
    broker.join(traced.queue_name)
    worker.join()
    [without] = seen
    assert without["span"].get_span_context().trace_id == producer.get_span_context().trace_id

    broker.middleware.insert(0, Instrumentation())  # runs before ours
    seen.clear()
    with stub_tenant("traced-co"), tracer.start_as_current_span("producer") as producer:
        traced.send()
    broker.join(traced.queue_name)
    worker.join()
    [instrumented] = seen
    assert instrumented["span"].name == "instrumented-run"
    assert instrumented["tenant"] == "traced-co"  # the rest is restored as usual
