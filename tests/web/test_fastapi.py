"""FastAPI dependencies: what docs/adapters/starlette.md tells users about binding there."""

from __future__ import annotations

import httpx
import pytest
import structlog
from fastapi import Depends, FastAPI

from ctxcarry.adapters.starlette import ContextMiddleware
from tests.web.support import visible_context


async def bind_user_async() -> None:
    structlog.contextvars.bind_contextvars(user_id="u-async")


def bind_user_sync() -> None:
    structlog.contextvars.bind_contextvars(user_id="u-sync")  # runs in a threadpool copy


def build_fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/async-dependency", dependencies=[Depends(bind_user_async)])
    async def with_async_dependency() -> dict[str, object]:
        return visible_context()

    @app.get("/sync-dependency", dependencies=[Depends(bind_user_sync)])
    async def with_sync_dependency() -> dict[str, object]:
        return visible_context()

    app.add_middleware(ContextMiddleware)
    return app


@pytest.mark.anyio
async def test_an_async_dependency_binds_for_the_endpoint_and_a_sync_one_does_not() -> None:
    transport = httpx.ASGITransport(app=build_fastapi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        seen_async = (await http.get("/async-dependency")).json()
        seen_sync = (await http.get("/sync-dependency")).json()
    assert seen_async["user_id"] == "u-async"
    assert "user_id" not in seen_sync  # the documented pitfall
    assert structlog.contextvars.get_contextvars() == {}
