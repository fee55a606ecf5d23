"""Junk, hostile and oversized carrier headers: the task still runs, the worker survives.

The messages are sent by a twin app without ctxcarry installed, so the header
goes out exactly as written here (an installed app rewrites it at publish).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from ctxcarry.adapters.celery import HEADER
from tests.celery.apps import tenant
from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker

pytestmark = pytest.mark.integration

JUNK: dict[str, Any] = {
    "string": "not a carrier",
    "number": 12345,
    "list": ["a", "b"],
    "envelope_not_object": {"ctxcarry": "nope"},
    "future_version": {"ctxcarry": {"v": 99, "vars": {"celery_tests.tenant": "x"}}},
    "unknown_var": {"ctxcarry": {"v": 1, "vars": {"no.such.var": 1}}},
    "bad_trace": {"traceparent": "00-zz-zz-zz", "tracestate": "x" * 50_000},
    "bad_log_keys": {"structlog_context": {"bad key!": 1, "k" * 5000: 2, "": 3}},
    "many_log_keys": {"structlog_context": {f"key_{i}": i for i in range(5000)}},
    "huge_baggage": {"baggage": "k=v," * 20_000},
    "oversized_4mb": {"structlog_context": {"blob": "x" * 4_000_000}},
}


def _junk_sender(app: Celery) -> Celery:
    """An app on the same broker and queue as ``app``, without ctxcarry."""
    sender = Celery(f"junk-{uuid.uuid4().hex[:8]}", set_as_current=False)
    sender.conf.update(
        broker_url=app.conf.broker_url,
        result_backend=app.conf.result_backend,
        task_default_queue=app.conf.task_default_queue,
    )
    return sender


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_junk_header_never_stops_the_task(
    worker_app: Celery, junk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sender = _junk_sender(worker_app)
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        result = sender.send_task("ctx.report", headers={HEADER: junk})
        report = result.get(timeout=RESULT_TIMEOUT)
    sender.close()
    assert report["tenant"] is None
    assert report["log"] == {} or junk is JUNK["many_log_keys"]
    assert any("dropped" in record.getMessage() for record in caplog.records)
    assert not any(record.exc_info for record in caplog.records if record.name == "ctxcarry")


def test_too_many_log_keys_are_cut_to_max_keys(worker_app: Celery) -> None:
    sender = _junk_sender(worker_app)
    report = sender.send_task("ctx.report", headers={HEADER: JUNK["many_log_keys"]}).get(
        timeout=RESULT_TIMEOUT
    )
    sender.close()
    assert len(report["log"]) == 64  # Carrier.max_keys


def test_nested_headers_that_are_not_a_dict_are_survived(worker_app: Celery) -> None:
    sender = _junk_sender(worker_app)
    report = sender.send_task("ctx.report", headers={"headers": "junk"}).get(timeout=RESULT_TIMEOUT)
    sender.close()
    assert report["tenant"] is None


def test_prefork_worker_survives_junk_and_serves_the_next_task(
    subprocess_worker: Callable[..., tuple[Celery, SubprocessWorker]],
) -> None:
    app, worker = subprocess_worker("prefork", concurrency=1)
    sender = _junk_sender(app)
    results = [sender.send_task("ctx.report", headers={HEADER: junk}) for junk in JUNK.values()]
    reports = [result.get(timeout=RESULT_TIMEOUT) for result in results]
    sender.close()
    with tenant("acme"):
        after = app.tasks["ctx.report"].delay().get(timeout=RESULT_TIMEOUT)
    assert len(reports) == len(JUNK)
    assert all(report["tenant"] is None for report in reports)
    assert after["tenant"] == "acme"
    assert after["pid"] == reports[0]["pid"]  # the same child process survived it all
    assert worker.alive()
    assert "ctxcarry.extract dropped" in worker.log_path.read_text(errors="replace")
