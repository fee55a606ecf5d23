"""A QueueVar module the test process imports and the worker subprocess never does."""

from __future__ import annotations

from ctxcarry import QueueVar

organisation_id: QueueVar[str | None] = QueueVar("celery_tests.producer_only", default=None)
