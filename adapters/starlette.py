"""Starlette / any ASGI app: one request scope per HTTP request or websocket.

``ContextMiddleware`` is a pure ASGI middleware (never ``BaseHTTPMiddleware``,
which runs the app in a child task whose bindings never come back). For each
``http`` and ``websocket`` scope it opens a :class:`ctxcarry.kit.RequestScope`
around the whole downstream call, so sync endpoints (threadpool copies),
streaming bodies and BackgroundTasks all run with the request's bindings, and
everything is restored exactly when the call returns. ``lifespan`` and other
scope types pass through untouched. See docs/adapters/starlette.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctxcarry.kit import (
    RequestBindings,
    RequestScope,
    call_bind_hook,
    choose_request_id,
    new_request_id,
    report_hook_failure,
    trace_fields,
)

__all__ = ["BindHook", "ContextMiddleware"]

#: A bind hook gets the request (or websocket) as an ``HTTPConnection`` and
#: returns structlog keys (``str``) and QueueVars mapped to values, or ``None``;
#: it may be ``async``.
BindHook = Callable[[HTTPConnection], "RequestBindings | Awaitable[RequestBindings | None] | None"]

_SCOPED_TYPES = frozenset(("http", "websocket"))
_HEADERS_MESSAGES = frozenset(("http.response.start", "websocket.accept"))


class ContextMiddleware:
    """Bind a request id (and the hook's values) once per request; restore exactly after.

    ``request_id_header``: the inbound header to take the id from, only when
    your own proxy sets it (``None``, the default, always generates one).
    ``response_header``: where the id is echoed (``None`` to not echo).
    ``bind``: a hook returning the request's bindings (see :data:`BindHook`).
    ``trust_trace_context``: honour inbound W3C ``traceparent``/``tracestate``
    (and the other fields of the global propagator) when no OTel server span
    is current already. ``generate_request_id``: replaces the default
    32-hex-digit generator.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        request_id_header: str | None = None,
        response_header: str | None = "X-Request-ID",
        bind: BindHook | None = None,
        trust_trace_context: bool = False,
        generate_request_id: Callable[[], str] | None = None,
    ) -> None:
        self.app = app
        self._id_header = request_id_header.lower().encode("latin-1") if request_id_header else None
        self._response_header = (
            response_header.lower().encode("latin-1") if response_header else None
        )
        self._bind = bind
        self._trust_trace = trust_trace_context
        self._generate = generate_request_id
        self._trace_names: tuple[tuple[str, ...], frozenset[bytes]] = ((), frozenset())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _SCOPED_TYPES:
            await self.app(scope, receive, send)
            return
        candidate, trace_headers = self._read_headers(scope)
        if candidate is None and self._generate is None:
            request_id = new_request_id()
        else:
            request_id = choose_request_id(candidate, self._generate)[0]
        request_scope = RequestScope()
        request_scope.enter(request_id, trace_headers)
        try:
            if self._bind is not None:
                await self._run_bind_hook(scope, request_scope)
            await self.app(scope, receive, self._wrap_send(send, request_scope))
        finally:
            request_scope.exit()

    def _read_headers(self, scope: Scope) -> tuple[bytes | None, dict[str, str] | None]:
        """The first trusted request id header, and the trace headers when trusted."""
        id_header = self._id_header
        if id_header is None and not self._trust_trace:
            return None, None
        trace_names = self._trace_header_names() if self._trust_trace else frozenset()
        candidate: bytes | None = None
        trace: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == id_header:
                if candidate is None:
                    candidate = value
            elif name in trace_names:
                trace.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        return candidate, trace or None

    def _trace_header_names(self) -> frozenset[bytes]:
        fields = trace_fields()
        cached_for, names = self._trace_names
        if cached_for is not fields:
            names = frozenset(field.lower().encode("latin-1") for field in fields)
            self._trace_names = (fields, names)
        return names

    async def _run_bind_hook(self, scope: Scope, request_scope: RequestScope) -> None:
        assert self._bind is not None
        bindings = call_bind_hook(self._bind, HTTPConnection(scope))
        if inspect.isawaitable(bindings):
            try:
                bindings = await bindings
            except Exception as exc:
                report_hook_failure(self._bind, exc)
                return
        request_scope.bind(bindings)

    def _wrap_send(self, send: Send, request_scope: RequestScope) -> Send:
        """Echo the id in the response headers; learn request keys before the last chunk."""
        response_header = self._response_header
        request_id = request_scope.request_id.encode("ascii")

        async def send_with_request_id(message: Message) -> None:
            message_type = message["type"]
            if message_type in _HEADERS_MESSAGES:
                if response_header is not None:
                    message = _with_header(message, response_header, request_id)
            elif message_type == "http.response.body" and not message.get("more_body", False):
                # The client may send its next request on this connection as soon as it
                # has this chunk: learn the endpoint's keys now (gh-140947).
                request_scope.learn()
            await send(message)

        return send_with_request_id


def _with_header(message: Message, name: bytes, value: bytes) -> Message:
    """A copy of ``message`` whose headers hold ``name: value`` once, replacing any other."""
    headers = []
    for header in message.get("headers", ()):
        if header[0].lower() != name:
            headers.append(header)
    headers.append((name, value))
    copied = dict(message)
    copied["headers"] = headers
    return copied
