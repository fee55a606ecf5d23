"""A Starlette application that reports, from every kind of endpoint, the context it sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from structlog.contextvars import bind_contextvars, get_contextvars

from ctxcarry import inject
from ctxcarry.adapters.starlette import ContextMiddleware
from tests.web.support import tenant_bindings, visible_context, web_tenant

log = structlog.get_logger("tests.web")


def snapshot() -> dict[str, Any]:
    """What the current code sees: structlog keys, the tenant QueueVar, a fresh carrier."""
    return {"context": visible_context(), "tenant": web_tenant.get(), "carrier": inject()}


async def async_endpoint(request: Request) -> JSONResponse:
    seen = snapshot()
    bind_contextvars(endpoint_key=request.query_params.get("mark", "async"))
    for step in range(3):
        await asyncio.sleep(0)
        log.info("endpoint step", step=step)
    seen["carrier"] = inject()
    return JSONResponse(seen)


def sync_endpoint(request: Request) -> JSONResponse:
    seen = snapshot()
    bind_contextvars(endpoint_key="sync")  # runs in a threadpool copy: never comes back
    log.info("sync endpoint")
    return JSONResponse(seen)


async def background_endpoint(request: Request) -> JSONResponse:
    carriers: list[dict[str, Any]] = request.app.state.background_carriers

    async def after_response() -> None:
        await asyncio.sleep(0)
        log.info("background task")
        carriers.append(inject())

    return JSONResponse({"queued": True}, background=BackgroundTask(after_response))


async def stream_endpoint(request: Request) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(0)
            log.info("stream chunk")
            yield (str(get_contextvars().get("request_id")) + "\n").encode()

    return StreamingResponse(body(), media_type="text/plain")


async def upload_endpoint(request: Request) -> JSONResponse:
    seen = snapshot()
    body = await request.body()
    bind_contextvars(upload_key=len(body))  # the endpoint's own binding, never restored by it
    await web_tenant_set_and_keep("uploaded")
    return JSONResponse({**seen, "size": len(body), "client": list(request.client or ())})


async def upload_with_background(request: Request) -> JSONResponse:
    """Rebind a key the server thread knew before serving; a background task delays exit."""
    body = await request.body()
    bind_contextvars(preexisting_key="from the upload")

    async def after_response() -> None:
        await asyncio.sleep(0.05)

    return JSONResponse(
        {"size": len(body), "client": list(request.client or ())},
        background=BackgroundTask(after_response),
    )


async def web_tenant_set_and_keep(value: str) -> None:
    """Set the QueueVar without resetting it, as careless endpoint code would."""
    web_tenant.set(value)


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({**snapshot(), "client": list(request.client or ())})


async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(snapshot())
    await websocket.close()


def bind_tenant(connection: HTTPConnection) -> dict[object, object] | None:
    """The tests' bind hook: tenant from the ``X-Tenant`` header."""
    return tenant_bindings(connection.headers)


ROUTES = [
    Route("/", async_endpoint),
    Route("/sync", sync_endpoint),
    Route("/background", background_endpoint),
    Route("/stream", stream_endpoint),
    Route("/upload", upload_endpoint, methods=["POST"]),
    Route("/upload-background", upload_with_background, methods=["POST"]),
    Route("/whoami", whoami),
    WebSocketRoute("/ws", websocket_endpoint),
]


def build_app(*, with_middleware: bool = True, **options: Any) -> Starlette:
    """The app, behind ``ContextMiddleware(**options)`` (tenant hook by default)."""
    options.setdefault("bind", bind_tenant)
    middleware = [Middleware(ContextMiddleware, **options)] if with_middleware else []
    app = Starlette(routes=ROUTES, middleware=middleware)
    app.state.background_carriers = []
    return app
