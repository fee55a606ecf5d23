"""The carrier is one JSON-string label: it survives retries and ``.with_labels()``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import structlog
from taskiq import InMemoryBroker
from taskiq.kicker import AsyncKicker
from taskiq.middlewares import SmartRetryMiddleware

from ctxcarry.adapters.taskiq import LABEL, install
from tests.taskiq.apps import report, tenant
from tests.taskiq.conftest import Sink, Workers, producer, started


@pytest.mark.integration
def test_every_retry_runs_in_the_original_context(workers: Workers, sink: Sink) -> None:
    """SimpleRetryMiddleware re-kicks from ``on_error`` with a copy of the labels.

    A dict label would become a Python repr there and be lost on the first retry;
    the retry also must not carry what the failed attempt bound itself.
    """
    worker = workers.get()

    async def send() -> str:
        async with started(producer(worker)) as broker:
            structlog.contextvars.bind_contextvars(request_id="r-retry")
            with tenant("retry-co"):
                task = await broker.find_task("ctx.flaky").kiq(sink.key, "flaky", 2)
            return task.task_id

    task_id = asyncio.run(send())
    attempts = sink.take(3)
    for seen in attempts:
        assert seen["tenant"] == "retry-co"
        assert seen["log"] == {
            "request_id": "r-retry",
            "task_id": task_id,
            "task_name": "ctx.flaky",
        }


@pytest.mark.integration
def test_with_labels_sends_keep_the_carrier_and_a_copied_label_never_wins(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get()
    stale = json.dumps({"ctxcarry": {"v": 1, "vars": {"taskiq_tests.tenant": "stale"}}})

    async def send() -> None:
        async with started(producer(worker)) as broker:
            kicker = broker.find_task("ctx.report").kicker()
            with tenant("labelled"):
                await kicker.with_labels(priority=3, note="x", **{LABEL: stale}).kiq(
                    sink.key, "labels"
                )
            await kicker.with_labels(**{LABEL: stale}).kiq(sink.key, "nothing bound")

    asyncio.run(send())
    labelled, nothing_bound = sink.take(2)
    assert labelled["tenant"] == "labelled"
    assert nothing_bound["tenant"] is None


def test_label_is_a_json_string_typed_str_and_survives_taskiqs_label_preparation() -> None:
    """What pre_send writes round-trips through ``AsyncKicker._prepare_message``."""
    broker = InMemoryBroker()
    install(broker)
    sent = []

    @broker.task(task_name="labels.probe")
    async def probe() -> None:
        return None

    async def send() -> None:
        structlog.contextvars.bind_contextvars(request_id="r-label", note="é")
        with tenant("acme"):
            message = probe.kicker()._prepare_message()
            sent.append(broker.middlewares[0].pre_send(message))

    asyncio.run(send())
    (message,) = sent
    label = message.labels[LABEL]
    assert isinstance(label, str)
    assert label.isascii()
    assert message.labels_types[LABEL] == 3  # taskiq.labels.LabelType.STR
    carried = json.loads(label)
    assert carried["structlog_context"] == {"request_id": "r-label", "note": "é"}
    again = AsyncKicker("labels.probe", broker, dict(message.labels))._prepare_message()
    assert again.labels[LABEL] == label  # the retry middlewares' copy keeps it exactly


def test_smart_retry_middleware_retries_run_in_the_original_context() -> None:
    """SmartRetryMiddleware (no schedule source) re-kicks with ``.with_labels(delay=...)``.

    On ``InMemoryBroker`` the retry runs in a copy of the failed attempt's context
    (its ``kick`` is ``create_task``), so only what travels is checked here: the
    QueueVar the attempt changed is the original one again.
    """
    broker = InMemoryBroker()
    broker.add_middlewares(SmartRetryMiddleware(default_retry_count=3, default_delay=0))
    install(broker)
    seen: list[dict[str, Any]] = []

    @broker.task(task_name="smart.flaky", retry_on_error=True)
    async def flaky() -> None:
        seen.append(report(len(seen)))
        structlog.contextvars.bind_contextvars(attempt_bound="leak?")
        tenant.set("set-by-attempt")
        if len(seen) < 3:
            raise RuntimeError("fails on purpose")

    async def call() -> None:
        structlog.contextvars.bind_contextvars(request_id="r-smart")
        with tenant("smart"):
            await flaky.kiq()
        for _ in range(50):
            await broker.wait_all()
            if len(seen) == 3:
                break
            await asyncio.sleep(0.05)

    asyncio.run(call())
    assert [(s["tenant"], s["log"].get("request_id")) for s in seen] == [("smart", "r-smart")] * 3
