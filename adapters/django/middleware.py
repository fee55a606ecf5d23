"""Django middlewares: one request scope per request, identity bound after authentication.

``ContextMiddleware`` (put it first, or right after OTel's middleware) opens a
:class:`ctxcarry.kit.RequestScope` in *one* frame around
``get_response`` -- never split across ``process_request``/``process_response``,
whose tokens fail under ASGI -- so the same code restores the context on WSGI
and ASGI, for sync and async views. Streaming bodies, which Django iterates
after the middleware returned, are wrapped to run with the request's context.

``ContextIdentityMiddleware`` (put it after ``AuthenticationMiddleware``) calls
the ``BIND_IDENTITY`` hook once ``request.user`` exists and binds the result
into the scope the outer middleware opened; that scope restores it.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import (
    async_to_sync,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase
from django.utils.log import log_response

from ctxcarry.kit import (
    RequestScope,
    bind_request_values,
    call_bind_hook,
    choose_request_id,
    new_request_id,
    report_hook_failure,
    trace_fields,
)

from .checks import check_middleware_order, raise_for_errors
from .conf import Hook, load_settings, meta_key
from .streaming import aiterate_in_context, iterate_in_context

__all__ = ["REQUEST_ID_ATTRIBUTE", "ContextIdentityMiddleware", "ContextMiddleware"]

#: The attribute of ``HttpRequest`` that holds the request id (also "inside a scope").
REQUEST_ID_ATTRIBUTE = "ctxcarry_request_id"

GetResponse = Callable[[HttpRequest], Any]

logger = logging.getLogger("ctxcarry")


def _adopt_mode(middleware: Callable[..., Any], get_response: GetResponse) -> bool:
    """Make ``middleware`` async exactly when the next handler is; return whether it is."""
    is_async = iscoroutinefunction(get_response)
    if is_async:
        markcoroutinefunction(middleware)
    return is_async


class ContextMiddleware:
    """Bind the request id (and the ``BIND`` hook's values) for the whole request.

    Configured by the ``CTXCARRY`` setting (see :mod:`ctxcarry.adapters.django.conf`).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        config = load_settings()
        self._id_meta_key = config.request_id_meta_key
        self._response_header = config.response_header
        self._trust_trace = config.trust_trace_context
        self._generate = config.generate_request_id
        self._bind = config.bind
        self._is_async = _adopt_mode(self, get_response)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        request_scope = self._open(request)
        try:
            if self._bind is not None:
                request_scope.bind(_call_hook_sync(self._bind, request))
            response = self.get_response(request)
            return self._finish(request, response, request_scope)
        finally:
            request_scope.exit()

    async def __acall__(self, request: HttpRequest) -> Any:
        request_scope = self._open(request)
        try:
            if self._bind is not None:
                request_scope.bind(await _call_hook_async(self._bind, request, inline=True))
            response = await self.get_response(request)
            return self._finish(request, response, request_scope)
        finally:
            request_scope.exit()

    def _open(self, request: HttpRequest) -> RequestScope:
        request_scope = RequestScope()
        candidate = None
        if self._id_meta_key is not None:
            candidate = _first_occurrence(request.META.get(self._id_meta_key))
        if candidate is None and self._generate is None:
            request_id = new_request_id()
        else:
            request_id = choose_request_id(candidate, self._generate)[0]
        request_scope.enter(request_id, self._trace_headers(request) if self._trust_trace else None)
        setattr(request, REQUEST_ID_ATTRIBUTE, request_id)
        return request_scope

    @staticmethod
    def _trace_headers(request: HttpRequest) -> dict[str, str] | None:
        meta = request.META
        headers = {}
        for field in trace_fields():
            value = meta.get(meta_key(field))
            if isinstance(value, str):
                headers[field] = value
        return headers or None

    def _finish(
        self, request: HttpRequest, response: HttpResponseBase, request_scope: RequestScope
    ) -> HttpResponseBase:
        if response.status_code >= 400:
            _log_response_in_scope(request, response)
        if self._response_header is not None:
            response[self._response_header] = request_scope.request_id
        if response.streaming and getattr(response, "file_to_stream", None) is None:
            _iterate_with_request_context(response)
        return response


class ContextIdentityMiddleware:
    """Bind identity (the ``BIND_IDENTITY`` hook's values) once authentication has run.

    Place it after ``AuthenticationMiddleware`` (and after ``ContextMiddleware``).
    Django drops it from the chain when ``BIND_IDENTITY`` is not set. Under
    ASGI a plain ``def`` hook runs in Django's sync thread (it may use the
    ORM, e.g. ``request.user``); an ``async def`` hook is awaited.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        hook = load_settings().bind_identity
        if hook is None:
            raise MiddlewareNotUsed("CTXCARRY['BIND_IDENTITY'] is not set")
        raise_for_errors(check_middleware_order())  # fail at startup, not on every request
        self.get_response = get_response
        self._hook: Hook = hook
        self._warned = False
        self._is_async = _adopt_mode(self, get_response)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        if self._inside_scope(request):
            bind_request_values(_call_hook_sync(self._hook, request))
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        if self._inside_scope(request):
            bind_request_values(await _call_hook_async(self._hook, request, inline=False))
        return await self.get_response(request)

    def _inside_scope(self, request: HttpRequest) -> bool:
        """Bind only inside ContextMiddleware's scope: nothing else would restore it."""
        if hasattr(request, REQUEST_ID_ATTRIBUTE):
            return True
        if not self._warned:
            self._warned = True
            logger.warning(
                "ctxcarry: ContextIdentityMiddleware runs outside ContextMiddleware; "
                "identity is not bound (put ContextMiddleware earlier in MIDDLEWARE)"
            )
        return False


def _log_response_in_scope(request: HttpRequest, response: HttpResponseBase) -> None:
    """Log Django's own "Not Found: /path" line now, inside the request's scope.

    Django logs a 4xx/5xx response on ``django.request`` once the whole
    middleware chain has returned, outside our scope, so the line would carry
    none of the request's context. Logging it here, with Django's own
    function and arguments, marks it logged: Django then skips it.
    """
    try:
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )
    except Exception:  # a log line must never fail the request
        logger.exception("ctxcarry: could not log the response inside the request scope")


def _first_occurrence(value: object) -> str | None:
    """The first value of a header Django received repeatedly (servers join them with ``,``)."""
    if not isinstance(value, str):
        return None
    return value.split(",", 1)[0]


def _call_hook_sync(hook: Hook, request: HttpRequest) -> object:
    if iscoroutinefunction(hook):
        return call_bind_hook(async_to_sync(hook), request)
    return call_bind_hook(hook, request)


async def _call_hook_async(hook: Hook, request: HttpRequest, *, inline: bool) -> object:
    """Call a hook from async code; ``inline`` calls a sync hook directly (no thread hop)."""
    try:
        if iscoroutinefunction(hook):
            result: Awaitable[object] = hook(request)
            return await result
        if inline:
            return hook(request)
        return await sync_to_async(hook, thread_sensitive=True)(request)
    except Exception as exc:
        report_hook_failure(hook, exc)
        return None


def _iterate_with_request_context(response: Any) -> None:
    """Make the streaming body iterate in a copy of the request's current context."""
    captured = contextvars.copy_context()
    if response.is_async:
        response.streaming_content = aiterate_in_context(captured, response.streaming_content)
    else:
        response.streaming_content = iterate_in_context(captured, response.streaming_content)
