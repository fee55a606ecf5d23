"""The QueueVar the Django tasks tests carry (names are global: prefixed ``djt_``)."""

from __future__ import annotations

from ctxcarry import QueueVar

djt_tenant: QueueVar[str | None] = QueueVar("djt_tenant", default=None)
