"""Property: whatever is bound, the carrier survives each queue transport's own encoding.

Celery on RabbitMQ puts the carrier in an AMQP header table (py-amqp's encoder:
signed 64-bit integers, UTF-8 strings); Celery on Redis JSON-encodes the whole
message with kombu's serializer. PostgreSQL's jsonb (the task processor) runs in
tests/task_processor/test_transport_roundtrip.py.
"""

from __future__ import annotations

from typing import Any

from amqp.serialization import dumps as amqp_dumps
from amqp.serialization import loads as amqp_loads
from hypothesis import HealthCheck, given, settings
from kombu.utils import json as kombu_json

from tests.core.transport_roundtrip import Bound, bound_contexts, check_round_trip


def amqp_header_table(carrier: dict[str, Any]) -> Any:
    """What RabbitMQ's clients do to a message header: encode a table, decode it."""
    encoded = amqp_dumps("F", [{"ctxcarry": carrier}])
    (table,), _ = amqp_loads("F", encoded, 0)
    return table["ctxcarry"]


def kombu_json_body(carrier: dict[str, Any]) -> Any:
    """What kombu's JSON serializer does to a message carrying the carrier."""
    return kombu_json.loads(kombu_json.dumps({"headers": {"ctxcarry": carrier}}))["headers"][
        "ctxcarry"
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bound=bound_contexts)
def test_amqp_header_tables_accept_every_carrier(bound: Bound) -> None:
    check_round_trip(bound, amqp_header_table)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bound=bound_contexts)
def test_kombu_json_accepts_every_carrier(bound: Bound) -> None:
    check_round_trip(bound, kombu_json_body)
