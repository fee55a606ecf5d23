"""Streaming response bodies that Django iterates after the middleware returned.

Django (WSGI and ASGI) iterates ``StreamingHttpResponse.streaming_content``
once ``ContextMiddleware`` has restored the context, so the body would run
without the request's bindings. These wrappers advance the body inside a copy
of the request's context taken just before the scope exits.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from ctxcarry.kit import replayed

__all__ = ["aiterate_in_context", "iterate_in_context"]

T = TypeVar("T")


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
            with replayed(context):
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with replayed(context):
                await aclose()
