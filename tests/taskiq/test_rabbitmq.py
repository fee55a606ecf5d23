"""taskiq-aio-pika copies every label into the AMQP headers: the label must fit a frame.

RabbitMQ closes the whole connection when a content header is larger than
``frame_max`` (128 KiB by default), so on these brokers the adapter caps the
Carrier's budget at ``AMQP_LABEL_LIMIT`` (64 KiB).
"""

from __future__ import annotations

import asyncio

import pytest
import structlog

from ctxcarry import DEFAULT_MAX_BYTES, Carrier
from ctxcarry.adapters.taskiq import AMQP_LABEL_LIMIT, LABEL, install
from ctxcarry.adapters.taskiq.wire import encode_label
from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started

pytestmark = pytest.mark.integration


def _largest_value_that_fits(carrier: Carrier) -> str:
    """The longest ``blob`` value inject still keeps with ``tenant`` bound."""
    low, high = 0, carrier.max_bytes
    while low < high:
        middle = (low + high + 1) // 2
        with structlog.contextvars.bound_contextvars(blob="x" * middle):
            kept = "blob" in carrier.inject().get("structlog_context", {})
        low, high = (middle, high) if kept else (low, middle - 1)
    return "x" * low


def test_a_carrier_at_the_max_bytes_budget_crosses_rabbitmq_intact(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get(transport="amqp")
    carrier = Carrier()
    with tenant("amqp"):
        blob = _largest_value_that_fits(carrier)
        with structlog.contextvars.bound_contextvars(blob=blob):
            label = encode_label(carrier.inject())
    assert DEFAULT_MAX_BYTES - 64 < len(label) <= DEFAULT_MAX_BYTES

    async def send() -> None:
        async with started(producer(worker)) as broker:
            with tenant("amqp"), structlog.contextvars.bound_contextvars(blob=blob):
                await broker.find_task("ctx.report").kiq(sink.key, "full")

    asyncio.run(send())
    (seen,) = sink.take()
    assert seen["tenant"] == "amqp"
    assert seen["log"]["blob"] == blob


def test_a_budget_above_the_frame_is_capped_and_the_connection_survives(
    workers: Workers, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    worker = workers.get(transport="amqp")
    big = Carrier(max_bytes=1024 * 1024)

    async def send() -> None:
        broker = producer(worker)
        install(broker, big)
        async with started(broker):
            task = broker.find_task("ctx.report")
            with tenant("capped"), structlog.contextvars.bound_contextvars(blob="y" * 200_000):
                sent = await task.kiq(sink.key, "too big")
            with tenant("next"):
                await task.kiq(sink.key, "next")
            assert sent.task_id

    asyncio.run(send())
    too_big, following = sink.take(2)
    assert too_big["tenant"] == "capped"
    assert "blob" not in too_big["log"]  # dropped by the capped budget, with a warning
    assert following["tenant"] == "next"
    assert any(f"max_bytes={AMQP_LABEL_LIMIT}" in record.getMessage() for record in caplog.records)
    assert LABEL == "ctxcarry"
