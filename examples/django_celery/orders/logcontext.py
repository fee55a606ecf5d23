"""The hooks named in the ``CTXCARRY`` setting."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .queuevars import tenant, username


def bind_request(request: HttpRequest) -> dict[Any, Any]:
    """``BIND``: runs first, for every request, before authentication (no database)."""
    return {tenant: request.headers.get("x-tenant")}


def bind_identity(request: HttpRequest) -> dict[Any, Any] | None:
    """``BIND_IDENTITY``: ``request.user`` exists now (after ``AuthenticationMiddleware``)."""
    user = request.user
    if not user.is_authenticated:
        return None
    return {"user_id": user.pk, username: user.get_username()}
