"""Mixed-version deploys: a producer or a worker without the adapter, both ways."""

from __future__ import annotations

import pytest
import structlog

from ctxcarry.adapters.dramatiq import OPTION
from tests.dramatiq.app import tenant
from tests.dramatiq.conftest import WorkerFactory

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_worker_without_the_adapter_runs_messages_from_a_producer_with_it(
    start_worker: WorkerFactory, kind: str
) -> None:
    app, _ = start_worker(kind, threads=1, installed=False)
    structlog.contextvars.bind_contextvars(request_id="req-new")
    with tenant("new-producer"):
        message = app.probe.send("from-new", fail_times=1)  # a retry on the old worker too
        app.parent.send("nested-on-old")
    assert OPTION in message.options
    reports = {(r["label"], r["retries"]): r for r in app.collect(4)}
    assert set(reports) == {
        ("from-new", 0),
        ("from-new", 1),
        ("nested-on-old", 0),
        ("nested-on-old.child", 0),
    }
    # The old worker ignores the option: the messages run, with nothing restored.
    assert all(r["log"].get("request_id") is None for r in reports.values())


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_worker_with_the_adapter_runs_messages_from_a_producer_without_it(
    start_worker: WorkerFactory, kind: str
) -> None:
    app, _ = start_worker(kind, threads=1, producer_installed=False)
    structlog.contextvars.bind_contextvars(request_id="req-old")
    with tenant("old-producer"):
        message = app.probe.send("from-old", fail_times=1)
    structlog.contextvars.clear_contextvars()
    app.probe.send("next")
    assert OPTION not in message.options
    reports = app.collect(3)
    by_key = {(r["label"], r["retries"]): r for r in reports}
    for key in (("from-old", 0), ("from-old", 1), ("next", 0)):
        report = by_key[key]
        # Nothing carried, nothing left over from the message before on this thread.
        assert report["tenant"] is None, key
        assert set(report["log"]) == {"task_id", "task_name"}, key
    assert by_key[("from-old", 1)]["log"]["task_id"] == message.message_id
