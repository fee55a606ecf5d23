"""Mixed deploys, both ways, on real workers: the label is only ever an extra label."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started

pytestmark = pytest.mark.integration


def test_a_worker_without_the_adapter_runs_tasks_from_a_producer_with_it(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get(installed=False)

    async def send() -> None:
        async with started(producer(worker, installed=True)) as broker:
            structlog.contextvars.bind_contextvars(request_id="r-new")
            with tenant("new-producer"):
                await broker.find_task("ctx.report").kiq(sink.key, "async")
                await broker.find_task("ctx.sync_report").kiq(sink.key, "sync")
                await broker.find_task("ctx.flaky").kiq(sink.key, "retried", 1)

    asyncio.run(send())
    reports = sink.take(4)
    assert {seen["tag"] for seen in reports} == {"async", "sync", "retried"}
    assert all(seen["tenant"] is None and seen["log"] == {} for seen in reports)


def test_a_worker_with_the_adapter_runs_tasks_from_a_producer_without_it(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get(installed=True)

    async def send() -> None:
        async with started(producer(worker, installed=False)) as broker:
            structlog.contextvars.bind_contextvars(request_id="r-old")
            with tenant("old-producer"):
                await broker.find_task("ctx.report").kiq(sink.key, "async")
                await broker.find_task("ctx.sync_report").kiq(sink.key, "sync")

    asyncio.run(send())
    reports = sink.take(2)
    assert all(seen["tenant"] is None for seen in reports)
    assert all(set(seen["log"]) == {"task_id", "task_name"} for seen in reports)
