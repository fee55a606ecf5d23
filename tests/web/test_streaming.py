"""The streaming wrappers: a body iterated after the scope closed still sees the request."""

from __future__ import annotations

import asyncio
import contextvars

from structlog.contextvars import bind_contextvars, get_contextvars

from ctxcarry._request_scope import RequestScope, bind_request_values
from ctxcarry.adapters.django.streaming import aiterate_in_context, iterate_in_context
from tests.web.support import web_tenant


def test_streaming_iterators_run_in_the_captured_context() -> None:
    scope = RequestScope()
    scope.enter("req-stream")
    captured = contextvars.copy_context()
    scope.exit()

    def body() -> object:
        yield get_contextvars().get("request_id")
        bind_contextvars(inside_body=True)
        yield get_contextvars().get("inside_body")

    assert list(iterate_in_context(captured, iter(body()))) == ["req-stream", True]
    assert get_contextvars() == {}


def test_async_streaming_iterators_run_in_the_captured_context() -> None:
    async def body() -> object:
        yield get_contextvars().get("request_id")
        bind_contextvars(inside_body=True)
        yield web_tenant.get()

    async def consume() -> tuple[list[object], dict[str, object]]:
        scope = RequestScope()
        scope.enter("req-astream")
        bind_request_values({web_tenant: "initech"})
        captured = contextvars.copy_context()
        scope.exit()
        items = [item async for item in aiterate_in_context(captured, body())]
        return items, get_contextvars()

    items, after = asyncio.run(consume())
    assert items == ["req-astream", "initech"]
    assert after == {}
