"""RabbitMQ as the broker: the nested carrier header survives AMQP header tables."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import structlog
from celery import Celery, chain

from tests.celery.apps import request_id, tenant
from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker

pytestmark = pytest.mark.integration


def test_context_crosses_rabbitmq_including_worker_published_steps(
    amqp_url: str, subprocess_worker: Callable[..., tuple[Celery, SubprocessWorker]]
) -> None:
    app, worker = subprocess_worker("prefork", concurrency=1, broker_url=amqp_url)
    step = app.tasks["ctx.step"]
    structlog.contextvars.bind_contextvars(user_id=42, roles=["admin", "ops"], ratio=0.5)
    try:
        with tenant("acme"), request_id("req-1"):
            reports = chain(step.s(), step.s()).apply_async().get(timeout=RESULT_TIMEOUT)
    finally:
        worker.stop()
        with app.connection_for_write() as connection:  # leave no durable queue behind
            connection.default_channel.queue_delete(app.conf.task_default_queue)
    for report in reports:
        assert (report["tenant"], report["request_id"]) == ("acme", "req-1")
        assert report["log"] == {"user_id": 42, "roles": ["admin", "ops"], "ratio": 0.5}


def test_huge_integers_bound_or_set_never_break_a_publish_to_rabbitmq(
    amqp_url: str, subprocess_worker: Callable[..., tuple[Celery, SubprocessWorker]]
) -> None:
    """Issue 10 item 1: AMQP header tables hold signed 64-bit integers only.

    A structlog value beyond 2**53 - 1 travels as its decimal string; a QueueVar
    refuses such a value where it is set (``TypeError``), so ``apply_async``
    itself never fails with ``struct.error``.
    """
    app, worker = subprocess_worker("prefork", concurrency=1, broker_url=amqp_url)
    step = app.tasks["ctx.step"]
    big = uuid.uuid4().int | (1 << 127)
    structlog.contextvars.bind_contextvars(request_uuid=big, ids=[2**63, 1])
    try:
        with tenant("acme"):
            (report,) = step.apply_async().get(timeout=RESULT_TIMEOUT)
        with pytest.raises(TypeError, match=r"celery_tests\.tenant"):
            tenant.set(10**30)  # type: ignore[arg-type]
    finally:
        worker.stop()
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(app.conf.task_default_queue)
    assert report["tenant"] == "acme"
    assert report["log"] == {"request_uuid": str(big), "ids": [str(2**63), 1]}
