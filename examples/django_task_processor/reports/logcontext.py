"""The ``BIND`` hook named in the ``CTXCARRY`` setting."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .queuevars import tenant


def bind_request(request: HttpRequest) -> dict[Any, Any]:
    """Runs first, for every request: the tenant header sets the ``tenant`` QueueVar."""
    return {tenant: request.headers.get("x-tenant")}
