"""Property: whatever is bound, the carrier survives PostgreSQL's jsonb (Task.trace_context).

The counterpart of tests/core/test_transport_roundtrip.py for the task
processor: the carrier goes through Django's JSONField into the real database
and back, as ``handler.delay()`` stores it and the processor reads it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from task_processor.models import Task

from tests.core.transport_roundtrip import Bound, bound_contexts, check_round_trip

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("db")]


def through_jsonb(carrier: dict[str, Any]) -> Any:
    """Store the carrier in ``Task.trace_context`` (jsonb) and read it back."""
    task = Task.create(task_identifier="ctxcarry_tp_record", scheduled_for=timezone.now())
    task.save()
    Task.objects.filter(pk=task.pk).update(trace_context=carrier)  # no signals: exactly this
    return Task.objects.values_list("trace_context", flat=True).get(pk=task.pk)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bound=bound_contexts)
def test_postgresql_jsonb_accepts_every_carrier(bound: Bound) -> None:
    check_round_trip(bound, through_jsonb)
