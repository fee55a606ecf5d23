"""Our hooks never raise into Taskiq: a send is never refused, a task never stopped."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import structlog
from taskiq import InMemoryBroker, TaskiqMessage

from ctxcarry import Carrier, Extraction
from ctxcarry.adapters.taskiq import LABEL, CtxcarryMiddleware, install, with_context
from tests.taskiq.apps import report, tenant


def _broker(carrier: Carrier | None = None) -> tuple[InMemoryBroker, list[dict[str, Any]]]:
    broker = InMemoryBroker(await_inplace=True)
    install(broker, carrier)
    seen: list[dict[str, Any]] = []

    @broker.task(task_name="never.report")
    async def probe(tag: str) -> None:
        seen.append(report(tag))

    return broker, seen


def test_a_strict_carrier_that_refuses_what_is_bound_never_refuses_the_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, seen = _broker(Carrier(strict=True))

    async def call() -> None:
        structlog.contextvars.bind_contextvars(unserialisable=object())
        with tenant("strict"):
            await broker.find_task("never.report").kiq("strict")

    with caplog.at_level(logging.ERROR, logger="ctxcarry"):
        asyncio.run(call())
    assert len(seen) == 1  # sent and run, without a carrier
    assert seen[0]["tenant"] is None
    assert any("Taskiq pre_send failed" in r.getMessage() for r in caplog.records)


def test_a_strict_carrier_that_refuses_the_label_never_stops_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, _ = _broker(Carrier(strict=True))
    message = TaskiqMessage(
        task_id="t-1", task_name="never.report", labels={LABEL: "not json"}, args=["x"], kwargs={}
    )
    middleware = broker.middlewares[0]
    assert isinstance(middleware, CtxcarryMiddleware)

    async def call() -> None:
        before = structlog.contextvars.get_contextvars()
        with caplog.at_level(logging.ERROR, logger="ctxcarry"):
            assert middleware.pre_execute(message) is message
        assert structlog.contextvars.get_contextvars() == before  # nothing entered
        middleware.post_execute(message, None)  # type: ignore[arg-type]

    asyncio.run(call())
    assert any("Taskiq pre_execute failed" in r.getMessage() for r in caplog.records)


def test_hooks_return_the_message_when_anything_inside_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broker, seen = _broker()
    middleware = broker.middlewares[0]
    assert isinstance(middleware, CtxcarryMiddleware)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(Carrier, "inject", broken)
    monkeypatch.setattr(Carrier, "extract", broken)

    async def call() -> None:
        with tenant("broken"):
            await broker.find_task("never.report").kiq("broken")

    with caplog.at_level(logging.ERROR, logger="ctxcarry"):
        asyncio.run(call())
    assert len(seen) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("Taskiq pre_send failed" in m for m in messages)
    assert any("Taskiq pre_execute failed" in m for m in messages)


def test_post_execute_without_a_pre_execute_does_nothing() -> None:
    middleware = CtxcarryMiddleware()
    message = TaskiqMessage(task_id="x", task_name="y", labels={}, args=[], kwargs={})

    async def call() -> None:
        before = structlog.contextvars.get_contextvars()
        middleware.post_execute(message, None)  # type: ignore[arg-type]
        assert structlog.contextvars.get_contextvars() == before

    asyncio.run(call())


def test_with_context_never_raises_and_always_returns_the_kicker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, _ = _broker(Carrier(strict=True))
    kicker = broker.find_task("never.report").kicker()
    with caplog.at_level(logging.ERROR, logger="ctxcarry"):
        structlog.contextvars.bind_contextvars(unserialisable=object())
        assert with_context(kicker) is kicker
    assert LABEL not in kicker.labels
    assert any("with_context failed" in r.getMessage() for r in caplog.records)


def test_with_context_adds_the_label_only_when_something_is_bound() -> None:
    broker, _ = _broker()
    kicker = broker.find_task("never.report").kicker()
    assert LABEL not in with_context(kicker).labels
    with tenant("scheduled"):
        labels = with_context(kicker).labels
    assert isinstance(labels[LABEL], str)
    assert "scheduled" in labels[LABEL]


def test_a_failing_undo_is_logged_and_the_task_still_completes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broker, seen = _broker()

    def broken(self: Extraction) -> None:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(Extraction, "exit", broken)

    async def call() -> None:
        with tenant("undo"):
            task = await broker.find_task("never.report").kiq("undo")
        assert (await task.wait_result(timeout=5)).is_err is False

    with caplog.at_level(logging.ERROR, logger="ctxcarry"):
        asyncio.run(call())
    assert seen[0]["tenant"] == "undo"
    assert any("Taskiq post_execute failed" in r.getMessage() for r in caplog.records)
