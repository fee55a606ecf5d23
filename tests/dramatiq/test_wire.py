"""What the adapter writes into a message, read back raw from the broker (no worker)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pika
import pytest
import structlog

from ctxcarry import priority
from ctxcarry.adapters.dramatiq import OPTION, PARENT_OPTION
from tests.dramatiq.app import App, tenant
from tests.dramatiq.conftest import SESSION_PREFIX, Services, unique_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def rabbit_app(request: pytest.FixtureRequest, _rabbit_cleanup: None) -> Iterator[App]:
    app = Services(request).app("rabbitmq", unique_queue("wire-"))
    yield app
    app.close()


@pytest.fixture
def redis_app(request: pytest.FixtureRequest, dramatiq_redis_url: str) -> Iterator[App]:
    app = Services(request).app("redis", unique_queue("wire-"))
    yield app
    app.close()


def test_rabbitmq_body_options_and_priority(rabbit_app: App) -> None:
    """The carrier is in the JSON body; the ``priority`` QueueVar becomes the AMQP priority."""
    structlog.contextvars.bind_contextvars(request_id="req-wire")
    with tenant("wire-co"), priority(5):
        rabbit_app.probe.send("prioritised")
        rabbit_app.probe.send_with_options(args=("explicit",), broker_priority=2)
    rabbit_app.probe.send("plain")
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_app.url))
    channel = connection.channel()
    got = {}
    for _ in range(3):
        _, properties, body = channel.basic_get(rabbit_app.queue, auto_ack=True)
        message = json.loads(body)
        got[message["args"][0]] = (properties, message["options"])
    connection.close()
    properties, options = got["prioritised"]
    assert properties.priority == 5
    assert options[OPTION]["structlog_context"] == {"request_id": "req-wire"}
    assert options[OPTION]["ctxcarry"]["vars"]["priority"] == 5
    assert PARENT_OPTION not in options
    assert properties.headers is None  # nothing in AMQP headers
    assert got["explicit"][0].priority == 2  # the caller's explicit priority wins
    assert got["plain"][0].priority is None


def test_redis_stored_message(redis_app: App) -> None:
    with tenant("stored-co"), priority(5):
        message = redis_app.probe.send("stored")
    stored = redis_app.reports.hget(
        f"{SESSION_PREFIX}:{redis_app.queue}.msgs", message.options["redis_message_id"]
    )
    assert stored is not None
    options = json.loads(stored)["options"]
    assert options[OPTION]["ctxcarry"]["vars"] == {
        "dramatiq_tests.tenant": "stored-co",
        "priority": 5,
    }
    assert "broker_priority" not in options  # Redis has no message priorities
    redis_app.probe.send("nothing-bound")
    redis_app.broker.flush(redis_app.queue)
