"""A QueueVar module imported only by ``install(app, queuevars=[...])`` in test_install."""

from __future__ import annotations

from ctxcarry import QueueVar

listed: QueueVar[str | None] = QueueVar("celery_tests.listed", default=None)
