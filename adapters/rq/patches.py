"""The three places the adapter hooks into rq, and how it unhooks.

rq has no enqueue or job-run hooks, so ``install`` wraps three methods, as
sentry-sdk and opentelemetry-instrumentation-rq do:

- ``Job.create`` (a classmethod): every job made anywhere gets the carrier;
- ``perform_job`` of ``BaseWorker`` (and of any worker class that defines its
  own at install time: opentelemetry-instrumentation-rq replaces
  ``Worker.perform_job``, which would otherwise hide ours): the job's scope;
- ``Queue.run_sync``: the guard for ``is_async=False``.

A wrapper is always called with the class's own attribute bound to the
instance, so it composes with plain functions and with wrapt wrappers in
either order. When the same ``perform_job`` call passes through two of our
wrappers, the outer one opens the scope and the inner one passes through.
``uninstall`` puts back the originals that are still ours to put back; a
wrapper someone else wrapped in the meantime stays, and does nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker

from .enqueue import stamp
from .run import close_job, open_job

__all__ = ["patch", "unpatch"]

_MARK = "__ctxcarry_rq_original__"

#: (class, attribute name, the class's own attribute before we replaced it).
_patched: list[tuple[type, str, Any]] = []


def _bound(original: Any, instance: Any, owner: type) -> Callable[..., Any]:
    get = getattr(type(original), "__get__", None)
    return get(original, instance, owner) if get is not None else original  # type: ignore[no-any-return]


def _wrap_create(original: Any) -> Any:
    function = original.__func__ if isinstance(original, classmethod) else original

    @functools.wraps(function)
    def create(cls: type, *args: Any, **kwargs: Any) -> Any:
        job = _bound(original, None, cls)(*args, **kwargs)
        stamp(job)
        return job

    setattr(create, _MARK, original)
    return classmethod(create)


def _wrap_perform_job(original: Any) -> Any:
    @functools.wraps(original)
    def perform_job(self: Any, job: Any, queue: Any, *args: Any, **kwargs: Any) -> Any:
        call = _bound(original, self, type(self))
        run = open_job(job, inline=False)
        if run is None:
            return call(job, queue, *args, **kwargs)
        try:
            return call(job, queue, *args, **kwargs)
        finally:
            close_job(run)

    setattr(perform_job, _MARK, original)
    return perform_job


def _wrap_run_sync(original: Any) -> Any:
    @functools.wraps(original)
    def run_sync(self: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
        call = _bound(original, self, type(self))
        run = open_job(job, inline=True)
        if run is None:
            return call(job, *args, **kwargs)
        try:
            return call(job, *args, **kwargs)
        finally:
            close_job(run)

    setattr(run_sync, _MARK, original)
    return run_sync


def _is_ours(attribute: Any) -> bool:
    function = attribute.__func__ if isinstance(attribute, classmethod) else attribute
    return hasattr(function, _MARK)


def _defining(root: type, name: str) -> Iterator[type]:
    """``root`` and every subclass of it that defines ``name`` itself."""
    seen: set[type] = set()
    stack = [root]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if name in vars(cls):
            yield cls
        stack.extend(cls.__subclasses__())


_TARGETS: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (Job, "create", _wrap_create),
    (BaseWorker, "perform_job", _wrap_perform_job),
    (Queue, "run_sync", _wrap_run_sync),
)


def patch() -> None:
    """Wrap every target once (callers hold the installation lock)."""
    for root, name, wrap in _TARGETS:
        for cls in list(_defining(root, name)):
            original = vars(cls)[name]
            if _is_ours(original):
                continue
            setattr(cls, name, wrap(original))
            _patched.append((cls, name, original))


def unpatch() -> None:
    """Put back every original whose wrapper is still in place."""
    while _patched:
        cls, name, original = _patched.pop()
        if _is_ours(vars(cls).get(name)):
            setattr(cls, name, original)
