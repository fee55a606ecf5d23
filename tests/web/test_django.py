"""ContextMiddleware for Django: test Client (WSGI path), AsyncClient, and the ASGI handler."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, Client
from structlog.contextvars import bind_contextvars, get_contextvars

from ctxcarry._request_id import REQUEST_ID_PATTERN
from ctxcarry.adapters.django import ContextMiddleware
from ctxcarry.adapters.django.conf import ContextSettings, load_settings
from tests.web.support import LogCapture, web_tenant

CONTEXT_MIDDLEWARE = "ctxcarry.adapters.django.ContextMiddleware"
INBOUND_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(autouse=True)
def web_settings(settings: Any) -> Any:
    """Only ctxcarry's middleware, the tests' URLconf, the tenant hook."""
    settings.MIDDLEWARE = [CONTEXT_MIDDLEWARE]
    settings.ROOT_URLCONF = "tests.web.django_urls"
    settings.CTXCARRY = {"BIND": "tests.web.django_views.bind_tenant"}
    return settings


def asgi_client() -> httpx.AsyncClient:
    """httpx on Django's real ASGI handler (built now, with the current settings)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ASGIHandler()), base_url="http://testserver"
    )


def check_own_values(
    response: Any, tenant: str | None, outer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The view saw this request's id and tenant (plus ``outer`` bindings) only; return its body."""
    request_id = response.headers["X-Request-ID"]
    body = response.json()
    expected = {**(outer or {}), "request_id": request_id}
    if tenant is not None:
        expected["tenant"] = tenant
    assert body["context"] == expected
    assert body["tenant"] == tenant
    assert body["carrier"]["structlog_context"]["request_id"] == request_id
    assert body["carrier"]["ctxcarry"]["vars"] == ({"web_tenant": tenant} if tenant else {})
    return body


# ---------------------------------------------------------------- sync Client (WSGI path)


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_client_request_is_bound_echoed_and_carried(path: str, logs: LogCapture) -> None:
    response = Client().get(path, headers={"X-Tenant": "acme"})
    request_id = response.headers["X-Request-ID"]
    assert REQUEST_ID_PATTERN.fullmatch(request_id)
    body = check_own_values(response, "acme")
    assert body["carrier"]["structlog_context"]["endpoint_key"] == path[1:]
    assert {event["request_id"] for event in logs.named("view step")} == {request_id}
    assert get_contextvars() == {}


def test_client_nothing_leaks_into_the_next_request_or_the_test_thread() -> None:
    http = Client()
    bind_contextvars(service="tests")  # bound outside: must survive, never be wiped
    first = http.post("/upload", data=b"x" * 100, content_type="application/octet-stream")
    assert first.json()["size"] == 100
    outer = {"service": "tests"}
    check_own_values(http.get("/whoami"), None, outer)
    check_own_values(http.get("/sync", headers={"X-Tenant": "a"}), "a", outer)
    check_own_values(http.get("/whoami"), None, outer)
    assert get_contextvars() == {"service": "tests"}
    assert web_tenant.get() is None


def test_trusted_header_canonicalised_hostile_ones_replaced(settings: Any) -> None:
    settings.CTXCARRY = {"REQUEST_ID_HEADER": "X-Request-ID"}
    http = Client()
    sent = "0F3C2A9E-5D41-4B7A-9C3E-2B8D1E6F4A70"
    assert http.get("/whoami", HTTP_X_REQUEST_ID=sent).headers["X-Request-ID"] == sent.lower()
    for hostile in ["a" * 10_240, "abc\r\nX-Injected: 1", "réq\u202e", "bad,good", " x"]:
        response = http.get("/whoami", HTTP_X_REQUEST_ID=hostile)
        assert response.status_code == 200
        request_id = response.headers["X-Request-ID"]
        assert REQUEST_ID_PATTERN.fullmatch(request_id)
        assert hostile not in request_id
        assert response.json()["context"]["request_id"] == request_id
    # Servers join repeated headers with ",": the first occurrence is used.
    assert http.get("/whoami", HTTP_X_REQUEST_ID="first,second").headers["X-Request-ID"] == (
        "first"
    )


def test_untrusted_header_is_ignored_by_default() -> None:
    response = Client().get("/whoami", HTTP_X_REQUEST_ID="client-chosen")
    assert response.headers["X-Request-ID"] != "client-chosen"


def test_response_header_can_be_renamed_or_turned_off(settings: Any) -> None:
    settings.CTXCARRY = {"RESPONSE_HEADER": "X-Correlation-ID"}
    renamed = Client().get("/whoami")
    settings.CTXCARRY = {"RESPONSE_HEADER": None}
    silent = Client().get("/whoami")
    assert renamed.headers["X-Correlation-ID"] == renamed.json()["context"]["request_id"]
    assert "X-Request-ID" not in renamed.headers
    assert "X-Request-ID" not in silent.headers


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
@pytest.mark.parametrize("path", ["/stream-sync", "/stream-async"])
def test_client_streaming_body_iterates_with_the_request_context(
    path: str, logs: LogCapture
) -> None:
    response = Client().get(path)
    request_id = response.headers["X-Request-ID"]
    lines = b"".join(response).decode().splitlines()  # as a WSGI server iterates it
    assert lines == [request_id] * 3
    assert [event["request_id"] for event in logs.named("stream chunk")] == [request_id] * 3
    assert get_contextvars() == {}


def test_inbound_traceparent_only_when_trusted(settings: Any, span_exporter: Any) -> None:
    traceparent = f"00-{INBOUND_TRACE_ID}-00f067aa0ba902b7-01"
    untrusted = Client().get("/whoami", HTTP_TRACEPARENT=traceparent).json()["carrier"]
    settings.CTXCARRY = {"TRUST_TRACE_CONTEXT": True}
    trusted = Client().get("/whoami", HTTP_TRACEPARENT=traceparent).json()["carrier"]
    assert INBOUND_TRACE_ID not in untrusted.get("traceparent", "")
    assert trusted["traceparent"].split("-")[1] == INBOUND_TRACE_ID


def test_a_server_span_wins_over_the_inbound_traceparent(settings: Any, tracer: Any) -> None:
    settings.CTXCARRY = {"TRUST_TRACE_CONTEXT": True}
    traceparent = f"00-{INBOUND_TRACE_ID}-00f067aa0ba902b7-01"
    with tracer.start_as_current_span("server") as span:
        carrier = Client().get("/whoami", HTTP_TRACEPARENT=traceparent).json()["carrier"]
    assert carrier["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")


def test_a_failing_or_bad_hook_never_fails_the_request(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CTXCARRY = {"BIND": lambda request: 1 / 0}
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        assert Client().get("/whoami").status_code == 200
    assert "ZeroDivisionError" in caplog.text
    settings.CTXCARRY = {"BIND": lambda request: {web_tenant: object(), "ok": 1}}
    response = Client().get("/whoami")
    assert response.status_code == 200
    assert response.json()["context"]["ok"] == 1
    assert response.json()["tenant"] is None


def test_async_bind_hook_and_custom_generator_on_the_wsgi_path(settings: Any) -> None:
    settings.CTXCARRY = {
        "BIND": "tests.web.django_views.bind_tenant_async",
        "GENERATE_REQUEST_ID": "tests.web.django_views.request_id_from_service",
    }
    response = Client().get("/sync", headers={"X-Tenant": "hooli"})
    assert response.headers["X-Request-ID"] == "svc-000042"
    check_own_values(response, "hooli")


@pytest.mark.anyio
async def test_async_bind_hook_on_the_asgi_path(settings: Any) -> None:
    settings.CTXCARRY = {"BIND": "tests.web.django_views.bind_tenant_async"}
    check_own_values(await AsyncClient().get("/async", headers={"X-Tenant": "hooli"}), "hooli")


def test_500_threaded_wsgi_requests_each_see_only_their_own_values(logs: LogCapture) -> None:
    def one(number: int) -> tuple[str, Any]:
        tenant = f"tenant-{number}"
        response = Client().get("/sync", {"mark": tenant}, headers={"X-Tenant": tenant})
        return tenant, response

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(500)))
    check_concurrent_results(results, logs)


def check_concurrent_results(results: list[tuple[str, Any]], logs: LogCapture) -> None:
    tenant_of = {}
    for tenant, response in results:
        assert response.status_code == 200
        body = check_own_values(response, tenant)
        assert body["carrier"]["structlog_context"]["endpoint_key"] == tenant
        tenant_of[response.headers["X-Request-ID"]] = tenant
    assert len(tenant_of) == len(results)
    steps = logs.named("view step")
    assert len(steps) == 3 * len(results)
    for event in steps:
        assert event["tenant"] == tenant_of[event["request_id"]] == event["endpoint_key"]


# ---------------------------------------------------------------- AsyncClient and ASGI


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/sync", "/async"])
async def test_async_client_bound_echoed_and_nothing_leaks(path: str) -> None:
    http = AsyncClient()
    check_own_values(await http.get(path, headers={"X-Tenant": "acme"}), "acme")
    await http.post("/upload", data=b"x" * 10, content_type="application/octet-stream")
    check_own_values(await http.get("/whoami"), None)
    assert get_contextvars() == {}
    assert web_tenant.get() is None


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/sync", "/async"])
async def test_asgi_handler_bound_echoed_and_nothing_leaks(path: str) -> None:
    async with asgi_client() as http:
        check_own_values(await http.get(path, headers={"X-Tenant": "acme"}), "acme")
        await http.post("/upload", content=b"x" * 10)
        check_own_values(await http.get("/whoami"), None)
        check_own_values(await http.get(path), None)
    assert get_contextvars() == {}
    assert web_tenant.get() is None


@pytest.mark.anyio
@pytest.mark.parametrize("with_middleware", [True, False])
async def test_asgi_request_started_in_a_stale_context_starts_clean(
    settings: Any, with_middleware: bool
) -> None:
    """gh-140947 by hand: the server starts a request in a context holding an earlier one's.

    Without the middleware (the control) the view sees the stale values.
    """
    if not with_middleware:
        settings.MIDDLEWARE = []

    async def scenario() -> Any:
        async with asgi_client() as http:
            await http.post("/upload", content=b"x" * 10, headers={"X-Tenant": "earlier"})
            bind_contextvars(request_id="stale", tenant="earlier", upload_key=10)
            web_tenant.set("earlier")
            return (await http.get("/whoami")).json()

    seen = await asyncio.create_task(scenario())  # the stale values stay in that task
    if with_middleware:
        assert set(seen["context"]) == {"request_id"}
        assert seen["context"]["request_id"] != "stale"
        assert seen["tenant"] is None
    else:
        assert seen["context"] == {"request_id": "stale", "tenant": "earlier", "upload_key": 10}
        assert seen["tenant"] == "earlier"


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
@pytest.mark.parametrize("path", ["/stream-sync", "/stream-async"])
async def test_asgi_streaming_body_iterates_with_the_request_context(
    path: str, logs: LogCapture
) -> None:
    async with asgi_client() as http:
        response = await http.get(path)
    request_id = response.headers["X-Request-ID"]
    assert response.text.splitlines() == [request_id] * 3
    assert [event["request_id"] for event in logs.named("stream chunk")] == [request_id] * 3
    assert get_contextvars() == {}


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/sync", "/async"])
async def test_500_concurrent_asgi_requests_each_see_only_their_own_values(
    path: str, logs: LogCapture
) -> None:
    async def one(http: httpx.AsyncClient, number: int) -> tuple[str, Any]:
        tenant = f"tenant-{number}"
        response = await http.get(path, params={"mark": tenant}, headers={"X-Tenant": tenant})
        return tenant, response

    async with asgi_client() as http:
        results = await asyncio.gather(*(one(http, number) for number in range(500)))
    check_concurrent_results(list(results), logs)


# ---------------------------------------------------------------- configuration


def test_settings_defaults_and_dotted_paths(settings: Any) -> None:
    settings.CTXCARRY = {}
    assert load_settings() == ContextSettings()
    settings.CTXCARRY = {
        "REQUEST_ID_HEADER": "X-Amzn-Request-Id",
        "BIND": "tests.web.django_views.bind_tenant",
        "TRUST_TRACE_CONTEXT": True,
    }
    loaded = load_settings()
    assert loaded.request_id_meta_key == "HTTP_X_AMZN_REQUEST_ID"
    assert loaded.bind is not None
    assert loaded.bind.__name__ == "bind_tenant"
    assert loaded.trust_trace_context is True


@pytest.mark.parametrize(
    "bad",
    [
        {"REQUEST_ID_HEADR": "X-Request-ID"},
        {"REQUEST_ID_HEADER": "X Request\nID"},
        {"TRUST_TRACE_CONTEXT": "yes"},
        {"BIND": "tests.web.no_such_module.hook"},
        {"BIND": 42},
        ["REQUEST_ID_HEADER"],
    ],
)
def test_bad_settings_fail_when_the_middleware_loads(settings: Any, bad: Any) -> None:
    settings.CTXCARRY = bad
    with pytest.raises(ImproperlyConfigured):
        ContextMiddleware(lambda request: None)
