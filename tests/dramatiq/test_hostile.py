"""Hostile carriers written straight into the broker's storage never stop a message.

The messages are written the way each broker stores them, bypassing Dramatiq
and the adapter: on Redis into the namespace's ``<queue>.msgs`` hash and the
queue list (what the broker's ``enqueue`` Lua command does), on RabbitMQ as a
raw AMQP publish to the queue.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pika
import pytest

from ctxcarry.adapters.dramatiq import OPTION, PARENT_OPTION
from tests.dramatiq.app import App
from tests.dramatiq.conftest import SESSION_PREFIX, SubprocessWorker

pytestmark = pytest.mark.integration

Worker = tuple[App, SubprocessWorker]

HUGE = "x" * (4 * 1024 * 1024)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"k": value}
    return value


#: label -> message options (each a hostile carrier and/or parent id).
HOSTILE: dict[str, dict[str, Any]] = {
    "string": {OPTION: "not an object"},
    "list": {OPTION: [1, 2, 3]},
    "number": {OPTION: 12},
    "true": {OPTION: True},
    "envelope-string": {OPTION: {"ctxcarry": "x", "structlog_context": "y"}},
    "vars-not-object": {OPTION: {"ctxcarry": {"v": 1, "vars": ["dramatiq_tests.tenant"]}}},
    "bad-trace": {OPTION: {"traceparent": 12, "tracestate": ["x"], "baggage": {"a": 1}}},
    "bad-traceparent": {OPTION: {"traceparent": "00-zz-zz-01"}},
    "bad-keys": {OPTION: {"structlog_context": {"bad key!": 1, "": 2, "ok_key": 3}}},
    "huge": {OPTION: {"structlog_context": {"big": HUGE}}},
    "huge-name": {OPTION: {"structlog_context": {HUGE: 1}}},
    "deep": {OPTION: {"structlog_context": {"deep": nested(500)}}},
    "many-keys": {OPTION: {"structlog_context": {f"k{i}": i for i in range(5000)}}},
    "parent-object": {PARENT_OPTION: {"id": 1}},
    "parent-huge": {PARENT_OPTION: HUGE},
    "parent-control": {PARENT_OPTION: "evil\nline\x00"},
}


def raw_message(app: App, label: str, options: dict[str, Any]) -> tuple[str, bytes]:
    message_id = str(uuid.uuid4())
    body = {
        "queue_name": app.queue,
        "actor_name": "probe",
        "args": [label],
        "kwargs": {},
        "options": options,
        "message_id": message_id,
        "message_timestamp": int(time.time() * 1000),
    }
    return message_id, json.dumps(body).encode()


def write_raw(app: App, label: str, options: dict[str, Any]) -> None:
    _, body = raw_message(app, label, options)
    if app.kind == "redis":
        redis_id = str(uuid.uuid4())
        app.reports.hset(f"{SESSION_PREFIX}:{app.queue}.msgs", redis_id, body)
        app.reports.rpush(f"{SESSION_PREFIX}:{app.queue}", redis_id)
        return
    connection = pika.BlockingConnection(pika.URLParameters(app.url))
    try:
        connection.channel().basic_publish(
            exchange="",
            routing_key=app.queue,
            body=body,
            properties=pika.BasicProperties(delivery_mode=2),
        )
    finally:
        connection.close()


def test_hostile_carriers_never_stop_a_message(worker: Worker) -> None:
    app, subprocess_worker = worker
    for label, options in HOSTILE.items():
        write_raw(app, label, options)
    app.probe.send("after")  # a normal message behind them still runs, clean
    reports = {report["label"]: report for report in app.collect(len(HOSTILE) + 1)}
    assert set(reports) == {*HOSTILE, "after"}
    for label, report in reports.items():
        assert report["tenant"] is None, label
        assert "leaked_key" not in report["log"], label
        assert "parent_task_id" not in report["log"], label
        assert report["log"]["task_name"] == "probe", label
        assert "big" not in report["log"]
        assert "deep" not in report["log"] or len(json.dumps(report["log"])) < 40_000
    assert reports["bad-keys"]["log"]["ok_key"] == 3  # what is usable is still restored
    assert reports["bad-trace"]["trace_id"] is None
    # One warning per bad carrier, naming the problem, never the raw value.
    warnings = [line for line in subprocess_worker.log_lines() if line.get("logger") == "ctxcarry"]
    assert warnings
    assert all(len(json.dumps(line)) < 20_000 for line in warnings)


def test_a_newer_producers_carrier_version(worker: Worker) -> None:
    """A carrier from a newer ctxcarry: its QueueVars are not restored, the rest is."""
    app, _ = worker
    options = {
        OPTION: {
            "ctxcarry": {"v": 2, "vars": {"dramatiq_tests.tenant": "future"}, "new": True},
            "structlog_context": {"request_id": "req-future"},
        },
        "some_future_option": {"x": 1},
    }
    write_raw(app, "future", options)
    [report] = app.collect(1)
    assert report["tenant"] is None
    assert report["log"]["request_id"] == "req-future"
