"""A server span per request: what OpenTelemetry's Django instrumentation does.

Put first in ``MIDDLEWARE`` so the span is current for ctxcarry's middleware,
every view and every task enqueued (the tasks join the request's trace). With
``opentelemetry-instrumentation-django`` installed, use it instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

if not isinstance(trace.get_tracer_provider(), TracerProvider):
    trace.set_tracer_provider(TracerProvider())  # ids only, no exporter
tracer = trace.get_tracer("django_celery_example")


class ServerSpanMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        with tracer.start_as_current_span(f"{request.method} {request.path}"):
            return self.get_response(request)

    async def _acall(self, request: Any) -> Any:
        with tracer.start_as_current_span(f"{request.method} {request.path}"):
            response: Awaitable[Any] = self.get_response(request)
            return await response
