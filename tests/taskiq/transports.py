"""The real brokers of the tests: taskiq-redis on Redis, taskiq-aio-pika on RabbitMQ."""

from __future__ import annotations

from taskiq import AsyncBroker
from taskiq_aio_pika import AioPikaBroker
from taskiq_aio_pika.exchange import Exchange
from taskiq_aio_pika.queue import Queue, QueueType
from taskiq_redis import ListQueueBroker, ListRedisScheduleSource

#: redis-py 8 reads with a 5 s socket timeout by default, which ends taskiq-redis's
#: BRPOP (it waits without a timeout) and with it an idle worker process.
NO_SOCKET_TIMEOUT = {"socket_timeout": None}


def redis_broker(url: str, queue: str) -> AsyncBroker:
    """A ``ListQueueBroker`` on its own list."""
    return ListQueueBroker(url, queue_name=queue, **NO_SOCKET_TIMEOUT)


def amqp_queue_names(queue: str) -> tuple[str, str]:
    """The task queue (also the exchange) and the dead-letter queue for ``queue``."""
    return queue, f"{queue}.dead"


def amqp_broker(url: str, queue: str) -> AsyncBroker:
    """An ``AioPikaBroker`` whose exchange and queues are this session's own (classic)."""
    task_queue, dead = amqp_queue_names(queue)
    return AioPikaBroker(
        url,
        exchange=Exchange(name=task_queue, durable=False),
        task_queues=[Queue(name=task_queue, type=QueueType.CLASSIC, durable=False)],
        dead_letter_queue=Queue(name=dead, type=QueueType.CLASSIC, durable=False),
    )


def schedule_source(url: str, queue: str) -> ListRedisScheduleSource:
    """A Redis schedule source under this queue's prefix."""
    return ListRedisScheduleSource(url, prefix=f"{queue}:schedule", **NO_SOCKET_TIMEOUT)
