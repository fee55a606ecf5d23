"""The demo's web side: a Starlette app behind ctxcarry's ContextMiddleware.

The middleware binds a fresh ``request_id`` (structlog) for each request,
the tenant from the ``X-Tenant`` header (a QueueVar, through its bind hook),
and, because the demo trusts it, the caller's W3C ``traceparent``. The
endpoint only logs and enqueues: the Celery adapter puts all of that into the
messages.
"""

from __future__ import annotations

from typing import Any

import structlog
from opentelemetry import trace

from .context import tenant
from .queues import DemoQueue

__all__ = ["TENANT_HEADER", "make_web_app"]

TENANT_HEADER = "X-Tenant"

log = structlog.get_logger(side="web")
tracer = trace.get_tracer("ctxcarry.demo")


def _bind_tenant(connection: Any) -> dict[Any, Any]:
    """The middleware's bind hook: the tenant header becomes the ``tenant`` QueueVar."""
    return {tenant: connection.headers.get(TENANT_HEADER)}


def make_web_app(queue: DemoQueue) -> Any:
    """The ASGI app: ``POST /reports/{name}`` enqueues a report build and an export."""
    # Imported here: no module of the ctxcarry package imports a framework at import time.
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ctxcarry.adapters.starlette import (  # type: ignore[import-not-found, unused-ignore]
        ContextMiddleware,
    )

    def create_report(request: Any) -> Any:
        # A sync endpoint: Starlette runs it in a thread, with a copy of the request's context.
        name = request.path_params["name"]
        with tracer.start_as_current_span("POST /reports/{name}"):
            log.info(f"POST /reports/{name}: enqueue build_report and export")
            queue.enqueue_for_request(name)
        return JSONResponse({"report": name, "tenant": tenant.get()}, status_code=202)

    app = Starlette(routes=[Route("/reports/{name}", create_report, methods=["POST"])])
    return ContextMiddleware(app, bind=_bind_tenant, trust_trace_context=True)
