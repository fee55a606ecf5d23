"""ContextMiddleware for Starlette, driven through httpx.ASGITransport (which shows leaks)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.routing import Route
from structlog.contextvars import bind_contextvars, get_contextvars

from ctxcarry._request_id import REQUEST_ID_PATTERN
from ctxcarry.adapters.starlette import ContextMiddleware
from tests.web import asgi
from tests.web.starlette_app import build_app
from tests.web.support import LogCapture, web_tenant

pytestmark = pytest.mark.anyio

INBOUND_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INBOUND_TRACEPARENT = f"00-{INBOUND_TRACE_ID}-00f067aa0ba902b7-01"


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def trace_id_of(carrier: dict[str, Any]) -> str | None:
    traceparent = carrier.get("traceparent")
    return traceparent.split("-")[1] if traceparent else None


async def test_request_id_is_generated_bound_echoed_and_carried(logs: LogCapture) -> None:
    async with client(build_app()) as http:
        response = await http.get("/", headers={"x-tenant": "acme"})
    request_id = response.headers["x-request-id"]
    body = response.json()
    assert REQUEST_ID_PATTERN.fullmatch(request_id)
    assert body["context"] == {"request_id": request_id, "tenant": "acme"}
    assert body["tenant"] == "acme"
    carrier = body["carrier"]
    assert carrier["structlog_context"]["request_id"] == request_id
    assert carrier["structlog_context"]["endpoint_key"] == "async"
    assert carrier["ctxcarry"]["vars"] == {"web_tenant": "acme"}
    assert {event["request_id"] for event in logs.named("endpoint step")} == {request_id}


async def test_each_request_gets_its_own_generated_id() -> None:
    async with client(build_app()) as http:
        ids = {(await http.get("/")).headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20


async def test_client_id_is_ignored_unless_the_header_is_trusted() -> None:
    sent = "0F3C2A9E-5D41-4B7A-9C3E-2B8D1E6F4A70"
    async with client(build_app()) as http:
        untrusted = await http.get("/", headers={"x-request-id": sent})
    async with client(build_app(request_id_header="X-Request-ID")) as http:
        trusted = await http.get("/", headers={"x-request-id": sent})
    assert untrusted.headers["x-request-id"] != sent.lower()
    assert trusted.headers["x-request-id"] == sent.lower()
    assert trusted.json()["context"]["request_id"] == sent.lower()


async def test_response_header_name_is_configurable_or_off() -> None:
    async with client(build_app(response_header="X-Correlation-ID")) as http:
        renamed = await http.get("/")
    async with client(build_app(response_header=None)) as http:
        silent = await http.get("/")
    assert renamed.headers["x-correlation-id"] == renamed.json()["context"]["request_id"]
    assert "x-request-id" not in renamed.headers
    assert "x-request-id" not in silent.headers


HOSTILE_IDS = [
    b"A" * 10_240,
    b"abc\r\nX-Injected: 1",
    b"abc\nevent=forged",
    "r\u00e9q-\u202e".encode(),
    b"\xff\xfe\x00",
    b"",
    b" abc",
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_hostile_request_ids_are_replaced_and_never_logged(
    hostile: bytes, logs: LogCapture, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(request_id_header="X-Request-ID")
    with caplog.at_level(logging.DEBUG):
        status, headers, body = await asgi.get(app, [(b"x-request-id", hostile)])
    assert status == 200
    (request_id,) = headers[b"x-request-id"]
    assert REQUEST_ID_PATTERN.fullmatch(request_id.decode())
    assert json.loads(body)["context"]["request_id"] == request_id.decode()
    everything_logged = repr(logs.events) + caplog.text
    if hostile:
        assert hostile.decode("latin-1")[:6] not in everything_logged.replace(
            request_id.decode(), ""
        )


async def test_only_the_first_of_many_duplicate_headers_counts() -> None:
    app = build_app(request_id_header="X-Request-ID")
    duplicates = [(b"x-request-id", b"first-id")] + [(b"x-request-id", b"other")] * 500
    _, headers, _ = await asgi.get(app, duplicates)
    assert headers[b"x-request-id"] == [b"first-id"]
    hostile_first = [(b"x-request-id", b"bad\nid"), (b"x-request-id", b"good-second")]
    _, headers, _ = await asgi.get(app, hostile_first)
    (generated,) = headers[b"x-request-id"]
    assert generated not in (b"good-second", b"bad\nid")


async def test_an_app_set_request_id_header_is_replaced_not_duplicated() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"x-request-id", b"from-app"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    _, headers, _ = await asgi.get(ContextMiddleware(app), [])
    assert len(headers[b"x-request-id"]) == 1
    assert headers[b"x-request-id"] != [b"from-app"]


async def test_lifespan_and_unknown_scopes_pass_through_untouched() -> None:
    seen: list[tuple[Any, Any, Any, dict[str, Any]]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send, get_contextvars()))

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        return None

    middleware = ContextMiddleware(app, bind=lambda connection: {"never": "bound"})
    for scope_type in ("lifespan", "something-else"):
        scope = {"type": scope_type, "asgi": {"version": "3.0"}}
        await middleware(scope, receive, send)
        assert seen[-1][:3] == (scope, receive, send)
        assert seen[-1][3] == {}


async def test_websocket_gets_the_request_context_and_echoes_the_id() -> None:
    scope = asgi.http_scope([(b"x-tenant", b"initech")], path="/ws")
    scope.update(type="websocket", scheme="ws", subprotocols=[])
    sent = await asgi.call(build_app(), scope, [{"type": "websocket.connect"}])
    accept = next(message for message in sent if message["type"] == "websocket.accept")
    payload = json.loads(next(m["text"] for m in sent if m["type"] == "websocket.send"))
    (request_id,) = [value for name, value in accept["headers"] if name == b"x-request-id"]
    assert payload["context"] == {"request_id": request_id.decode(), "tenant": "initech"}
    assert payload["carrier"]["ctxcarry"]["vars"] == {"web_tenant": "initech"}
    assert get_contextvars() == {}


async def test_sync_endpoint_sees_the_request_and_its_bindings_stay_in_the_thread(
    logs: LogCapture,
) -> None:
    async with client(build_app()) as http:
        first = await http.get("/sync", headers={"x-tenant": "acme"})
        second = await http.get("/sync")
    assert first.json()["context"] == {
        "request_id": first.headers["x-request-id"],
        "tenant": "acme",
    }
    assert first.json()["carrier"]["ctxcarry"]["vars"] == {"web_tenant": "acme"}
    assert second.json()["context"] == {"request_id": second.headers["x-request-id"]}
    assert [event["request_id"] for event in logs.named("sync endpoint")] == [
        first.headers["x-request-id"],
        second.headers["x-request-id"],
    ]


async def test_background_task_runs_with_the_request_context(logs: LogCapture) -> None:
    app = build_app()
    async with client(app) as http:
        response = await http.get("/background", headers={"x-tenant": "umbrella"})
    request_id = response.headers["x-request-id"]
    (carrier,) = app.state.background_carriers
    assert carrier["structlog_context"] == {"request_id": request_id, "tenant": "umbrella"}
    assert carrier["ctxcarry"]["vars"] == {"web_tenant": "umbrella"}
    assert [event["request_id"] for event in logs.named("background task")] == [request_id]
    assert get_contextvars() == {}


async def test_streaming_body_is_produced_with_the_request_context(logs: LogCapture) -> None:
    async with client(build_app()) as http:
        response = await http.get("/stream")
    request_id = response.headers["x-request-id"]
    assert response.text.splitlines() == [request_id] * 3
    assert [event["request_id"] for event in logs.named("stream chunk")] == [request_id] * 3


async def test_nothing_a_request_binds_reaches_the_next_one() -> None:
    app = build_app()
    async with client(app) as http:
        first = await http.post("/upload", content=b"x" * 1000, headers={"x-tenant": "acme"})
        second = await http.get("/whoami")
        third = await http.get("/", params={"mark": "third"})
        fourth = await http.get("/whoami")
    assert first.json()["context"]["tenant"] == "acme"
    assert second.json()["context"] == {"request_id": second.headers["x-request-id"]}
    assert second.json()["tenant"] is None
    assert second.json()["carrier"]["structlog_context"] == second.json()["context"]
    assert "web_tenant" not in second.json()["carrier"]["ctxcarry"]["vars"]
    assert third.json()["context"] == {"request_id": third.headers["x-request-id"]}
    assert fourth.json()["context"] == {"request_id": fourth.headers["x-request-id"]}
    # ASGITransport runs the app in this task: the caller's context is untouched too.
    assert get_contextvars() == {}
    assert web_tenant.get() is None


async def test_without_the_middleware_the_same_harness_sees_the_leak() -> None:
    """The control: proves the test above could fail."""

    async def scenario() -> Any:
        async with client(build_app(with_middleware=False)) as http:
            await http.post("/upload", content=b"x" * 10)
            return (await http.get("/whoami")).json()

    leaked = await asyncio.create_task(scenario())  # a task: the leak stays in its context
    assert leaked["context"]["upload_key"] == 10
    assert leaked["tenant"] == "uploaded"


@pytest.mark.parametrize("with_middleware", [True, False])
async def test_request_started_in_a_stale_context_starts_clean(with_middleware: bool) -> None:
    """gh-140947 by hand: the server starts a request in a context holding an earlier one's.

    Without the middleware (the control) the endpoint sees the stale values.
    """
    app = build_app(with_middleware=with_middleware)

    async def scenario() -> Any:
        async with client(app) as http:
            await http.post("/upload", content=b"x" * 10, headers={"x-tenant": "earlier"})
            bind_contextvars(request_id="stale", tenant="earlier", upload_key=10)
            web_tenant.set("earlier")
            return (await http.get("/whoami")).json()

    seen = await asyncio.create_task(scenario())  # the stale values stay in that task
    if with_middleware:
        assert set(seen["context"]) == {"request_id"}
        assert seen["context"]["request_id"] != "stale"
        assert seen["tenant"] is None
        assert seen["carrier"]["ctxcarry"]["vars"] == {}
    else:
        assert seen["context"] == {"request_id": "stale", "tenant": "earlier", "upload_key": 10}
        assert seen["tenant"] == "earlier"


async def test_bindings_made_outside_the_middleware_survive() -> None:
    bind_contextvars(service="api")
    async with client(build_app()) as http:
        response = await http.get("/", headers={"x-tenant": "acme"})
    assert response.json()["context"]["service"] == "api"
    assert get_contextvars() == {"service": "api"}


async def test_inbound_traceparent_is_ignored_unless_trusted(
    span_exporter: Any,
) -> None:
    headers = {"traceparent": INBOUND_TRACEPARENT}
    async with client(build_app()) as http:
        untrusted = (await http.get("/", headers=headers)).json()["carrier"]
    async with client(build_app(trust_trace_context=True)) as http:
        trusted = (await http.get("/", headers=headers)).json()["carrier"]
    assert trace_id_of(untrusted) != INBOUND_TRACE_ID
    assert trace_id_of(trusted) == INBOUND_TRACE_ID
    assert trace.get_current_span().get_span_context().is_valid is False


async def test_a_server_span_wins_over_the_inbound_traceparent(tracer: Any) -> None:
    inner = build_app(trust_trace_context=True)

    async def instrumented(scope: Any, receive: Any, send: Any) -> None:
        with tracer.start_as_current_span("server"):
            await inner(scope, receive, send)

    async with client(instrumented) as http:
        carrier = (await http.get("/", headers={"traceparent": INBOUND_TRACEPARENT})).json()
    assert trace_id_of(carrier["carrier"]) not in (None, INBOUND_TRACE_ID)


async def test_malformed_traceparent_is_ignored(span_exporter: Any) -> None:
    app = build_app(trust_trace_context=True)
    for value in (b"00-zz-00-01", b"x" * 5000, b"00-" + "é".encode() * 10):
        status, _, body = await asgi.get(app, [(b"traceparent", value)])
        assert status == 200
        assert "traceparent" not in json.loads(body)["carrier"]


async def test_a_failing_hook_costs_the_bindings_not_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(connection: HTTPConnection) -> None:
        raise KeyError("no tenant")

    async def broken_async(connection: HTTPConnection) -> None:
        raise LookupError("no tenant")

    for hook in (broken, broken_async):
        with caplog.at_level(logging.WARNING, logger="ctxcarry"):
            async with client(build_app(bind=hook)) as http:
                response = await http.get("/")
        assert response.status_code == 200
        assert response.json()["context"] == {"request_id": response.headers["x-request-id"]}
        assert hook.__name__ in caplog.text
        caplog.clear()


async def test_async_hook_and_unserialisable_values() -> None:
    async def hook(connection: HTTPConnection) -> dict[object, object]:
        await asyncio.sleep(0)
        return {"user_id": 7, "opaque": object(), web_tenant: {1, 2}}

    async with client(build_app(bind=hook)) as http:
        response = await http.get("/")
    assert response.status_code == 200
    carrier = response.json()["carrier"]
    assert carrier["structlog_context"]["user_id"] == 7
    assert "web_tenant" not in carrier["ctxcarry"]["vars"]


async def test_wrapping_the_whole_app_puts_the_id_on_500_responses(logs: LogCapture) -> None:
    async def failing(request: Any) -> None:
        structlog.get_logger().error("about to fail")
        raise RuntimeError("boom")

    app = ContextMiddleware(Starlette(routes=[Route("/fail", failing)]))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/fail")
    assert response.status_code == 500
    assert logs.named("about to fail")[0]["request_id"] == response.headers["x-request-id"]
    assert get_contextvars() == {}


async def test_custom_request_id_generator() -> None:
    async with client(build_app(generate_request_id=lambda: "svc-000001")) as http:
        response = await http.get("/")
    assert response.headers["x-request-id"] == "svc-000001"


async def test_500_concurrent_requests_each_see_only_their_own_values(logs: LogCapture) -> None:
    app = build_app()

    async def one(http: httpx.AsyncClient, number: int) -> tuple[str, str, Any]:
        tenant = f"tenant-{number}"
        response = await http.get("/", headers={"x-tenant": tenant}, params={"mark": tenant})
        assert response.status_code == 200
        return tenant, response.headers["x-request-id"], response.json()

    async with client(app) as http:
        results = await asyncio.gather(*(one(http, number) for number in range(500)))
    tenant_of: dict[str, str] = {}
    for tenant, request_id, body in results:
        tenant_of[request_id] = tenant
        assert body["context"] == {"request_id": request_id, "tenant": tenant}
        assert body["carrier"]["structlog_context"] == {
            "request_id": request_id,
            "tenant": tenant,
            "endpoint_key": tenant,
        }
        assert body["carrier"]["ctxcarry"]["vars"] == {"web_tenant": tenant}
    assert len(tenant_of) == 500
    steps = logs.named("endpoint step")
    assert len(steps) == 1500
    for event in steps:
        assert event["tenant"] == tenant_of[event["request_id"]] == event["endpoint_key"]


def test_middleware_is_usable_in_starlette_middleware_list() -> None:
    from starlette.middleware import Middleware

    app = Starlette(middleware=[Middleware(ContextMiddleware, request_id_header="X-Request-ID")])
    assert app.user_middleware[0].cls is ContextMiddleware
