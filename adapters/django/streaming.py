"""Streaming response bodies that Django iterates after the middleware returned.

Django (WSGI and ASGI) iterates ``StreamingHttpResponse.streaming_content``
once ``ContextMiddleware`` has restored the context, so the body would run
without the request's bindings. These wrappers advance the body inside a copy
of the request's context taken just before the scope exits.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, TypeVar

from ctxcarry.queuevar import BACKING_PREFIX, CLEARED

__all__ = ["aiterate_in_context", "iterate_in_context"]

T = TypeVar("T")

_STRUCTLOG_PREFIX = "structlog_"
_OWNED_PREFIXES = (_STRUCTLOG_PREFIX, BACKING_PREFIX)
_ABSENT: Any = object()


def iterate_in_context(context: contextvars.Context, iterator: Iterator[T]) -> Iterator[T]:
    """Yield ``iterator``'s items, advancing (and closing) it inside ``context``.

    For response bodies iterated after the middleware returned: pass a copy of
    the request's context taken before the scope exits. ``context`` must be
    private to this iterator.
    """
    try:
        while True:
            try:
                item = context.run(next, iterator)
            except StopIteration:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            context.run(close)


async def aiterate_in_context(
    context: contextvars.Context, iterator: AsyncIterator[T]
) -> AsyncIterator[T]:
    """The async version of :func:`iterate_in_context`.

    Each step replays ``context``'s variables around the ``await`` and then
    restores the consumer's context exactly, so nothing leaks either way.
    """
    try:
        while True:
            with _Replayed(context):
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with _Replayed(context):
                await aclose()


class _Replayed:
    """Set every variable of ``context`` for a block, then restore the caller's context."""

    __slots__ = ("_context", "_snapshot", "_tokens")

    def __init__(self, context: contextvars.Context) -> None:
        self._context = context

    def __enter__(self) -> None:
        self._snapshot = contextvars.copy_context()
        self._tokens = [
            cvar.set(value)
            for cvar, value in self._context.items()
            if self._snapshot.get(cvar, _ABSENT) is not value
        ]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for token in reversed(self._tokens):
            token.var.reset(token)
        snapshot = self._snapshot
        for cvar, value in contextvars.copy_context().items():
            if not cvar.name.startswith(_OWNED_PREFIXES):
                continue
            before = snapshot.get(cvar, _ABSENT)
            if value is before:
                continue
            if before is _ABSENT:
                before = Ellipsis if cvar.name.startswith(_STRUCTLOG_PREFIX) else CLEARED
            cvar.set(before)
