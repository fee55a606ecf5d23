"""Process-wide state of one concern: which Carrier the module-level API uses.

A module of its own, importing nothing of ctxcarry, so that both the Carrier
(which sets it) and ``QueueContext.from_carrier`` (which reads it) depend on
it without depending on each other.
"""

from __future__ import annotations

from typing import Any

__all__ = ["carrier"]

#: The default :class:`~ctxcarry.Carrier`; set by ``ctxcarry._carrier`` when it is imported.
carrier: Any = None
