"""Discovered at ``ready()`` by ``ctxcarry.adapters.django``: each app's ``queuevars``."""

from __future__ import annotations

from ctxcarry import QueueVar

organisation_id: QueueVar[int | None] = QueueVar("qvapp_organisation_id", default=None)
