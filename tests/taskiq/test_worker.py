"""A real ``taskiq worker`` on Redis (taskiq-redis): what a task sees, and what it leaves."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started

pytestmark = pytest.mark.integration


def test_async_task_sees_the_context_it_was_sent_from(workers: Workers, sink: Sink) -> None:
    worker = workers.get()

    async def send() -> str:
        async with started(producer(worker)) as broker:
            structlog.contextvars.bind_contextvars(request_id="r-1")
            with tenant("acme"):
                task = await broker.find_task("ctx.report").kiq(sink.key, "one")
            return task.task_id

    task_id = asyncio.run(send())
    (seen,) = sink.take()
    assert seen["tenant"] == "acme"
    assert seen["log"] == {"request_id": "r-1", "task_id": task_id, "task_name": "ctx.report"}


def test_sync_task_in_the_executor_sees_the_context(workers: Workers, sink: Sink) -> None:
    worker = workers.get()

    async def send() -> None:
        async with started(producer(worker)) as broker:
            structlog.contextvars.bind_contextvars(request_id="r-sync")
            with tenant("sync-co"):
                await broker.find_task("ctx.sync_report").kiq(sink.key, "sync")

    asyncio.run(send())
    (seen,) = sink.take()
    assert seen["tenant"] == "sync-co"
    assert seen["log"]["request_id"] == "r-sync"
    assert seen["log"]["task_name"] == "ctx.sync_report"


def test_each_task_starts_clean_of_the_previous_tasks_bindings(
    workers: Workers, sink: Sink
) -> None:
    """The report tasks set the QueueVar and bind a key; the next task sees neither."""
    worker = workers.get()

    async def send() -> None:
        async with started(producer(worker)) as broker:
            report = broker.find_task("ctx.report")
            sync_report = broker.find_task("ctx.sync_report")
            with tenant("first"):
                await report.kiq(sink.key, "first")
            sink.take()
            for task in (report, sync_report, report):
                await task.kiq(sink.key, "after")
                (seen,) = sink.take()
                assert seen["tenant"] is None
                assert set(seen["log"]) == {"task_id", "task_name"}

    asyncio.run(send())


def test_nested_kiq_from_a_task_carries_the_tasks_context_but_not_its_identity(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get()

    async def send() -> str:
        async with started(producer(worker)) as broker:
            structlog.contextvars.bind_contextvars(request_id="r-nested")
            with tenant("nest"):
                task = await broker.find_task("ctx.nested").kiq(sink.key, "parent")
            return task.task_id

    parent_id = asyncio.run(send())
    reports = {seen["tag"]: seen for seen in sink.take(2)}
    child = reports["parent-child"]
    assert child["tenant"] == "nest"
    assert child["log"]["request_id"] == "r-nested"
    assert child["log"]["parent_bound"] == "parent"  # bound by the parent before the kiq
    assert child["log"]["task_name"] == "ctx.report"
    assert child["log"]["task_id"] != parent_id


def test_task_identity_is_in_the_tasks_log_lines_and_taskiqs_own(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get()

    async def send() -> str:
        async with started(producer(worker)) as broker:
            task = await broker.find_task("ctx.log_probe").kiq(sink.key)
            return task.task_id

    task_id = asyncio.run(send())
    sink.take()
    lines = worker.log_lines()
    probe = [line for line in lines if line.get("event") == "probe-line"]
    executing = [line for line in lines if "Executing task ctx.log_probe" in line.get("event", "")]
    assert probe, lines
    assert executing, lines
    for line in (probe[0], executing[0]):
        assert line["task_id"] == task_id
        assert line["task_name"] == "ctx.log_probe"
