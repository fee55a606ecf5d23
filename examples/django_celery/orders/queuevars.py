"""This app's QueueVars.

``ctxcarry.adapters.django`` imports every installed app's ``queuevars``
module at ``ready()``, in every process that sets Django up: the web server
and the Celery worker (also with ``--skip-checks``), so both know them.
"""

from __future__ import annotations

from ctxcarry import QueueVar

#: The tenant the request acts for (from the ``X-Tenant`` header, at entry).
tenant: QueueVar[str | None] = QueueVar("tenant", default=None)
#: Who made the request: known only after authentication.
username: QueueVar[str | None] = QueueVar("username", default=None)
