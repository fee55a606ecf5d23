"""A real uvicorn server: a large upload, then a request on the same keep-alive connection.

CPython gh-140947: after a large upload, uvicorn can start the next request on
the connection in a context that still holds what the upload's endpoint bound
(without ctxcarry this leaks every time on uvicorn 0.54). The middleware's clean
baseline at request entry is what stops it, so this is repeated many times.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from django.core.handlers.asgi import ASGIHandler

from tests.web.servers import uvicorn_server
from tests.web.starlette_app import build_app

ROUNDS = 40
UPLOAD = b"u" * (1 << 20)


def assert_no_leak_on_keepalive(app: Any, upload_path: str, probe_path: str) -> None:
    with uvicorn_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(ROUNDS):
            upload = http.post(upload_path, content=UPLOAD, headers={"x-tenant": "uploader"})
            probe = http.get(probe_path)
            assert upload.status_code == probe.status_code == 200, probe.text
            assert upload.json()["size"] == len(UPLOAD)
            assert upload.json()["client"] == probe.json()["client"], "connection not reused"
            seen = probe.json()
            assert seen["context"] == {"request_id": probe.headers["x-request-id"]}
            assert seen["tenant"] is None
            assert seen["carrier"]["structlog_context"] == seen["context"]
            assert seen["carrier"]["ctxcarry"]["vars"] == {}


def test_starlette_on_uvicorn_never_leaks_after_large_uploads() -> None:
    assert_no_leak_on_keepalive(build_app(), "/upload", "/whoami")


def test_django_asgi_on_uvicorn_never_leaks_after_large_uploads(settings: Any) -> None:
    settings.MIDDLEWARE = ["ctxcarry.adapters.django.ContextMiddleware"]
    settings.ROOT_URLCONF = "tests.web.django_urls"
    settings.CTXCARRY = {"BIND": "tests.web.django_views.bind_tenant"}
    assert_no_leak_on_keepalive(ASGIHandler(), "/upload", "/whoami")


def _bind_then_clear_in_the_server_thread() -> None:
    """The key's ContextVar then exists before any request: no new variable appears."""
    structlog.contextvars.bind_contextvars(preexisting_key="server thread")
    structlog.contextvars.clear_contextvars()


def test_a_key_known_before_serving_never_leaks_past_a_background_task() -> None:
    """Request keys must be learned at the last chunk even when no new ContextVar appears.

    The endpoint's exit (which would learn the key) waits for its background
    task, while the client already sends the next request on the connection.
    """
    app = build_app()
    with (
        uvicorn_server(app, before_serving=_bind_then_clear_in_the_server_thread) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        for _ in range(20):
            upload = http.post("/upload-background", content=UPLOAD)
            probe = http.get("/whoami")
            assert upload.json()["client"] == probe.json()["client"], "connection not reused"
            assert probe.json()["context"] == {"request_id": probe.headers["x-request-id"]}


def test_the_harness_sees_the_leak_without_the_middleware() -> None:
    """The control: the same server and client, no ctxcarry; the leak shows up."""
    app = build_app(with_middleware=False)
    with uvicorn_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        leaked = 0
        for _ in range(5):
            http.post("/upload", content=UPLOAD)
            seen = http.get("/whoami").json()
            leaked += "upload_key" in seen["context"] or seen["tenant"] == "uploaded"
    assert leaked > 0, "gh-140947 no longer reproduces here: the leak tests lost their control"
