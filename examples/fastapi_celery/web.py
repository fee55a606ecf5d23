"""The FastAPI app: ``python web.py --port 8000`` (from this folder) serves it with uvicorn.

``ContextMiddleware`` binds a request id and the ``tenant`` QueueVar (from the
``X-Tenant`` header) for each request. FastAPI itself (0.165, as tested)
starts a server span per request once OpenTelemetry's SDK is configured; with
an older FastAPI, add OpenTelemetry's ASGI instrumentation for that. Every
line of a request -- the endpoint's, uvicorn's access line, ctxcarry's own
warnings -- and every task it enqueues carries request_id, tenant and trace_id.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import structlog
import uvicorn
from context import configure_logging, configure_tracing, tenant
from fastapi import FastAPI
from starlette.requests import HTTPConnection
from tasks import charge

from ctxcarry.adapters.starlette import ContextMiddleware
from ctxcarry.logs import json_logging_config

configure_logging()
configure_tracing()
log = structlog.get_logger("web")


def bind_request(connection: HTTPConnection) -> dict[Any, Any]:
    """ContextMiddleware's hook: the tenant header sets the ``tenant`` QueueVar."""
    return {tenant: connection.headers.get("x-tenant")}


app = FastAPI()


@app.post("/orders", status_code=202)
async def create_order(gift: bool = False) -> dict[str, str]:
    order_id = uuid.uuid4().hex[:8]
    if gift:
        # Not JSON: bound here, so it is on this request's lines, but it cannot
        # travel. ctxcarry leaves it out of the task's carrier with one warning.
        structlog.contextvars.bind_contextvars(gift_wrap={"red", "gold"})
    log.info("order accepted", order_id=order_id)
    charge.delay(order_id)
    return {"order_id": order_id}


app.add_middleware(ContextMiddleware, bind=bind_request)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=json_logging_config("INFO", loggers={"uvicorn.access": "INFO"}),
        log_level="info",
    )
