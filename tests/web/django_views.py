"""Django views that report, from sync, async and streaming code, the context they see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import structlog
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from structlog.contextvars import bind_contextvars, get_contextvars

from ctxcarry import inject
from tests.web.support import tenant_bindings, visible_context, web_tenant

log = structlog.get_logger("tests.web.django")


def snapshot() -> dict[str, Any]:
    """What the view sees: structlog keys, the tenant QueueVar, a fresh carrier."""
    return {"context": visible_context(), "tenant": web_tenant.get(), "carrier": inject()}


def client_address(request: HttpRequest) -> list[Any]:
    """The client (host, port) under ASGI; the address only under WSGI."""
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get("client"):
        return list(scope["client"])
    return [request.META.get("REMOTE_ADDR")]


def sync_view(request: HttpRequest) -> JsonResponse:
    seen = snapshot()
    bind_contextvars(endpoint_key=request.GET.get("mark", "sync"))
    for step in range(3):
        log.info("view step", step=step)
    seen["carrier"] = inject()
    return JsonResponse(seen)


async def async_view(request: HttpRequest) -> JsonResponse:
    seen = snapshot()
    bind_contextvars(endpoint_key=request.GET.get("mark", "async"))
    for step in range(3):
        await asyncio.sleep(0)
        log.info("view step", step=step)
    seen["carrier"] = inject()
    return JsonResponse(seen)


def upload_view(request: HttpRequest) -> JsonResponse:
    seen = snapshot()
    size = len(request.body)
    bind_contextvars(upload_key=size)  # the view's own binding, never undone by it
    web_tenant.set("uploaded")  # set without reset, as careless code would
    return JsonResponse({**seen, "size": size, "client": client_address(request)})


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({**snapshot(), "client": client_address(request)})


def stream_sync(request: HttpRequest) -> StreamingHttpResponse:
    def body() -> Iterator[bytes]:
        for _ in range(3):
            log.info("stream chunk")
            yield (str(get_contextvars().get("request_id")) + "\n").encode()

    return StreamingHttpResponse(body(), content_type="text/plain")


async def stream_async(request: HttpRequest) -> StreamingHttpResponse:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(0)
            log.info("stream chunk")
            yield (str(get_contextvars().get("request_id")) + "\n").encode()

    return StreamingHttpResponse(body(), content_type="text/plain")


def bind_tenant(request: HttpRequest) -> dict[object, object] | None:
    """The BIND hook: tenant from the ``X-Tenant`` header."""
    return tenant_bindings(request.headers)


def bind_identity(request: HttpRequest) -> dict[object, object] | None:
    """The BIND_IDENTITY hook (runs after AuthenticationMiddleware): the user's id."""
    user = request.user
    if not user.is_authenticated:
        return None
    return {"user_id": user.pk, "username": user.get_username()}


async def bind_identity_async(request: HttpRequest) -> dict[object, object] | None:
    """The async flavour, for ASGI deployments: ``request.auser()``."""
    if hasattr(request, "auser"):
        user = await request.auser()
    else:  # Django < 5.0 has no request.auser(): what it does, in a thread.
        user = await sync_to_async(get_user)(request)
    if not user.is_authenticated:
        return None
    return {"user_id": user.pk, "username": user.get_username()}


async def bind_tenant_async(request: HttpRequest) -> dict[object, object] | None:
    """An ``async def`` BIND hook (awaited under ASGI, run with async_to_sync under WSGI)."""
    await asyncio.sleep(0)
    return tenant_bindings(request.headers)


def request_id_from_service() -> str:
    """A GENERATE_REQUEST_ID setting target."""
    return "svc-000042"
