"""Scheduled sends: ``with_context`` stores the carrier; a real ``taskiq scheduler`` sends it.

``schedule_by_cron/interval/time`` store the labels without calling any
middleware, and the scheduler later sends from its own process, where our
``pre_send`` runs in the scheduler's context: it must keep the stored label.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest
import structlog

from ctxcarry.adapters.taskiq import LABEL, with_context
from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started
from tests.taskiq.transports import schedule_source

pytestmark = pytest.mark.integration

WHEN = {
    "cron": ("schedule_by_cron", "* * * * *"),  # due now: first match of the minute
    "interval": ("schedule_by_interval", 3600),  # due now: first run at once
    "time": ("schedule_by_time", None),  # set below: now
}


@pytest.mark.parametrize("kind", WHEN)
def test_scheduled_task_runs_in_the_context_it_was_scheduled_in(
    workers: Workers, sink: Sink, kind: str
) -> None:
    worker = workers.get()
    workers.scheduler(worker)
    method, when = WHEN[kind]
    if kind == "time":
        when = _now_with_polls_left_in_its_minute()

    async def schedule() -> dict[str, Any]:
        source = schedule_source(worker.sink_url, worker.queue)
        async with started(producer(worker)) as broker:
            await source.startup()
            structlog.contextvars.bind_contextvars(request_id=f"r-{kind}")
            with tenant(f"scheduled-{kind}"):
                kicker = with_context(broker.find_task("ctx.report").kicker())
                created = await getattr(kicker, method)(source, when, sink.key, kind)
            assert LABEL in created.task.labels
            return await _first_report(source, created.schedule_id, sink)

    seen = asyncio.run(schedule())
    assert seen["tenant"] == f"scheduled-{kind}"
    assert seen["log"]["request_id"] == f"r-{kind}"
    assert seen["log"]["task_name"] == "ctx.report"


def _now_with_polls_left_in_its_minute() -> datetime.datetime:
    """Now, at least 10 s before the minute ends (waiting for the next minute if need be).

    ``ListRedisScheduleSource`` files a time schedule under the minute it is due in and
    the scheduler only reads the current minute's list: a schedule due in the last
    second or two of a minute is never sent (taskiq's own race, CI saw it once).
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    if now.second >= 50:
        time.sleep(60.5 - now.second - now.microsecond / 1_000_000)
        now = datetime.datetime.now(datetime.timezone.utc)
    return now


async def _first_report(source: Any, schedule_id: str, sink: Sink) -> dict[str, Any]:
    """The first report of the schedule's task; the schedule is deleted afterwards."""
    try:
        (seen,) = await asyncio.to_thread(sink.take, 1, 20)
        return seen
    finally:
        await source.delete_schedule(schedule_id)
        await source.shutdown()


def test_without_with_context_a_schedule_carries_nothing(workers: Workers, sink: Sink) -> None:
    """The trap with_context exists for: the scheduler's own context is not carried either."""
    worker = workers.get()
    workers.scheduler(worker)

    async def schedule() -> dict[str, Any]:
        source = schedule_source(worker.sink_url, worker.queue)
        async with started(producer(worker)) as broker:
            await source.startup()
            with tenant("lost"):
                kicker = broker.find_task("ctx.report").kicker()
                created = await kicker.schedule_by_interval(source, 3600, sink.key, "plain")
            assert LABEL not in created.task.labels
            return await _first_report(source, created.schedule_id, sink)

    seen = asyncio.run(schedule())
    assert seen["tenant"] is None
    assert set(seen["log"]) == {"task_id", "task_name"}
