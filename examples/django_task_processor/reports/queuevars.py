"""This app's QueueVars, imported at ``ready()`` in every process by ctxcarry's Django apps."""

from __future__ import annotations

from ctxcarry import QueueVar

#: The tenant the request acts for (from the ``X-Tenant`` header).
tenant: QueueVar[str | None] = QueueVar("tenant", default=None)
