"""500 tasks with distinct contexts, interleaved in one worker's event loop."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started

pytestmark = pytest.mark.integration

COUNT = 500
#: Every task waits until this many run at once (or 20 s), so they really interleave.
TOGETHER = 300


def test_500_concurrent_tasks_each_see_only_their_own_context(workers: Workers, sink: Sink) -> None:
    worker = workers.get()

    async def send() -> None:
        async with started(producer(worker)) as broker:
            task = broker.find_task("ctx.concurrent")
            sends = []
            for index in range(COUNT):  # 500 concurrent kiqs, each in a copy of its own context
                with (
                    tenant(f"tenant-{index}"),
                    structlog.contextvars.bound_contextvars(req=f"req-{index}"),
                ):
                    sends.append(asyncio.create_task(task.kiq(sink.key, index, TOGETHER)))
            await asyncio.gather(*sends)

    asyncio.run(send())
    reports = sorted(sink.take(COUNT, timeout=90), key=lambda seen: seen["index"])
    assert [seen["index"] for seen in reports] == list(range(COUNT))
    wrong = [
        seen["index"]
        for seen in reports
        if seen["first"] != [f"tenant-{seen['index']}", f"req-{seen['index']}"]
        or seen["second_tenant"] != f"rebound-{seen['index']}"
        or seen["second_log"].get("req") != f"rebound-{seen['index']}"
        or seen["second_log"].get("own") != seen["index"]
    ]
    assert wrong == [], [reports[index] for index in wrong[:3]]
    assert max(seen["max_running"] for seen in reports) >= TOGETHER

    async def after() -> None:  # the worker is clean: a task sent with nothing bound sees nothing
        async with started(producer(worker)) as broker:
            await broker.find_task("ctx.report").kiq(sink.key, "after")

    asyncio.run(after())
    (clean,) = sink.take()
    assert clean["tenant"] is None
    assert set(clean["log"]) == {"task_id", "task_name"}
