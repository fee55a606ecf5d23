"""Listed in ``CTXCARRY["QUEUEVARS"]``: imported at ``ready()`` too."""

from __future__ import annotations

from ctxcarry import QueueVar

listed: QueueVar[str | None] = QueueVar("qvapp_listed", default=None)
