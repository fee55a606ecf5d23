"""RabbitMQ as the broker: the nested carrier header survives AMQP header tables."""

from __future__ import annotations

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
