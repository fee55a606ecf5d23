"""Junk, hostile and oversized carrier labels: the task still runs, the worker survives.

The messages are sent by a twin broker without ctxcarry whose only middleware
writes the label exactly as given (a dict stays a dict in the JSON body).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from taskiq import TaskiqMessage, TaskiqMiddleware

from ctxcarry.adapters.taskiq import LABEL
from tests.taskiq.apps import tenant
from tests.taskiq.conftest import Sink, Workers, producer, started

pytestmark = pytest.mark.integration

JUNK: dict[str, Any] = {
    "not_json": "not a carrier",
    "python_repr": "{'traceparent': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'}",
    "json_list": "[1, 2, 3]",
    "json_number": "12345",
    "number": 12345,
    "list": ["a", "b"],
    "deeply_nested": "[" * 100_000 + "]" * 100_000,
    "envelope_not_object": json.dumps({"ctxcarry": "nope"}),
    "future_version": json.dumps({"ctxcarry": {"v": 99, "vars": {"taskiq_tests.tenant": "x"}}}),
    "unknown_var": json.dumps({"ctxcarry": {"v": 1, "vars": {"no.such.var": 1}}}),
    "bad_trace": json.dumps({"traceparent": "00-zz-zz-zz", "tracestate": "x" * 50_000}),
    "bad_log_keys": json.dumps({"structlog_context": {"bad key!": 1, "k" * 5000: 2, "": 3}}),
    "many_log_keys": json.dumps({"structlog_context": {f"key_{i}": i for i in range(5000)}}),
    "huge_baggage": json.dumps({"baggage": "k=v," * 20_000}),
    "oversized_4mb": json.dumps({"structlog_context": {"blob": "x" * 4_000_000}}),
    "empty_string": "",
    "dict_with_junk": {"ctxcarry": "nope", "structlog_context": [1]},  # not a str, not valid
}


class RawLabel(TaskiqMiddleware):
    """Writes ``LABEL`` as given, with no label type (Taskiq then leaves it as it is)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        message.labels[LABEL] = self.value
        if message.labels_types is not None:
            message.labels_types.pop(LABEL, None)
        return message


def _send_raw(workers: Workers, value: Any, sink: Sink, own: str = "") -> None:
    worker = workers.get(own=own)

    async def send() -> None:
        async with started(producer(worker, installed=False, extra=(RawLabel(value),))) as broker:
            await broker.find_task("ctx.report").kiq(sink.key, "junk")

    asyncio.run(send())


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_junk_label_never_stops_the_task(workers: Workers, sink: Sink, junk: Any) -> None:
    _send_raw(workers, junk, sink)
    (seen,) = sink.take()
    assert seen["tenant"] is None
    assert set(seen["log"]) - {"task_id", "task_name"} <= {f"key_{i}" for i in range(5000)}


def test_the_worker_warns_once_per_junk_label_and_serves_the_next_task(
    workers: Workers, sink: Sink
) -> None:
    worker = workers.get(own="hostile")
    for junk in JUNK.values():
        _send_raw(workers, junk, sink, own="hostile")
    sink.take(len(JUNK))

    async def send() -> None:
        async with started(producer(worker)) as broker:
            with tenant("after-junk"):
                await broker.find_task("ctx.report").kiq(sink.key, "after")

    asyncio.run(send())
    (after,) = sink.take()
    assert after["tenant"] == "after-junk"
    assert worker.alive()
    warnings = [
        line
        for line in worker.log_lines()
        if line.get("logger") == "ctxcarry" and "dropped" in line.get("event", "")
    ]
    assert len(warnings) == len(JUNK)  # one warning per junk label
    assert not any("Traceback" in line.get("event", "") for line in worker.log_lines())
    assert "x" * 100 not in worker.logfile.read_text()  # never the raw value


def test_too_many_log_keys_are_cut_to_max_keys(workers: Workers, sink: Sink) -> None:
    _send_raw(workers, JUNK["many_log_keys"], sink)
    (seen,) = sink.take()
    assert len(set(seen["log"]) - {"task_id", "task_name"}) == 64  # Carrier.max_keys


def test_a_dict_label_from_an_older_sender_is_still_read(workers: Workers, sink: Sink) -> None:
    _send_raw(workers, {"ctxcarry": {"v": 1, "vars": {"taskiq_tests.tenant": "dict"}}}, sink)
    (seen,) = sink.take()
    assert seen["tenant"] == "dict"
