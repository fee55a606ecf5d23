"""sentry-sdk's Dramatiq integration and the adapter in one ``dramatiq`` worker.

Sentry inserts its middleware at index 0 when the broker is created (so
``sentry_sdk.init`` must come first); ``install`` then puts ours in front of it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import structlog

from tests.dramatiq.app import tenant
from tests.dramatiq.conftest import SubprocessWorker, WorkerFactory

pytestmark = pytest.mark.integration


def sentry_items(worker: SubprocessWorker, wanted: int, wait: float = 10) -> list[dict[str, Any]]:
    assert worker.sentry_path is not None
    deadline = time.monotonic() + wait
    while True:
        items = []
        if worker.sentry_path.exists():
            items = [json.loads(line) for line in worker.sentry_path.read_text().splitlines()]
        if len(items) >= wanted or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def test_sentry_and_ctxcarry_in_one_worker(start_worker: WorkerFactory) -> None:
    app, worker = start_worker("redis", threads=1, sentry=True)
    order = [line for line in worker.log_lines() if line.get("event") == "middleware order"]
    assert order
    assert order[0]["order"][:2] == ["ContextMiddleware", "SentryMiddleware"]

    structlog.contextvars.bind_contextvars(request_id="req-sentry")
    with tenant("sentry-co"):
        failing = app.probe.send("sentry-flaky", fail_times=1)
        app.parent.send("sentry-parent")
    structlog.contextvars.clear_contextvars()
    app.probe.send("sentry-after")
    reports = app.collect(5)
    by_key = {(r["label"], r["retries"]): r for r in reports}
    for key in (("sentry-flaky", 0), ("sentry-flaky", 1), ("sentry-parent.child", 0)):
        assert by_key[key]["tenant"] == "sentry-co", key
        assert by_key[key]["log"]["request_id"] == "req-sentry", key
    child = by_key[("sentry-parent.child", 0)]
    assert child["log"]["parent_task_id"] == by_key[("sentry-parent", 0)]["message_id"]
    after = by_key[("sentry-after", 0)]
    assert after["tenant"] is None
    assert set(after["log"]) == {"task_id", "task_name"}

    # Sentry did its own work for every message: one transaction each, one error event.
    items = sentry_items(worker, wanted=7)
    events = [item["payload"] for item in items if item["type"] == "event"]
    transactions = [item["payload"] for item in items if item["type"] == "transaction"]
    assert any(
        value["type"] == "Flaky"
        for event in events
        for value in event.get("exception", {}).get("values", [])
    )
    assert {t["transaction"] for t in transactions} >= {"probe", "parent", "child"}
    ids = [event.get("extra", {}).get("dramatiq_message_id") for event in events]
    assert failing.message_id in ids
