"""Calling an ASGI app by hand, for what an HTTP client would refuse to send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def http_scope(headers: Sequence[tuple[bytes, bytes]], path: str = "/") -> dict[str, Any]:
    """An HTTP/1.1 GET scope with exactly these raw headers."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def call(app: ASGIApp, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[Any]:
    """Run ``app`` on ``scope``, feeding ``incoming`` messages; return what it sent."""
    sent: list[dict[str, Any]] = []
    pending = list(incoming)

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def get(app: ASGIApp, headers: Sequence[tuple[bytes, bytes]], path: str = "/") -> Any:
    """A GET with raw headers: (status, response headers as a dict, body bytes)."""
    sent = await call(app, http_scope(headers, path), [{"type": "http.request", "body": b""}])
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers: dict[bytes, list[bytes]] = {}
    for name, value in start["headers"]:
        response_headers.setdefault(name.lower(), []).append(value)
    return start["status"], response_headers, body
