"""Run work in another thread with the context of the code that scheduled it.

A new ``threading.Thread`` starts with an empty context and a
``ThreadPoolExecutor`` runs each job in the pool thread's own, long-lived
context (a reused thread even keeps the previous job's bindings). These
helpers capture the caller's context when the work is handed over and run the
work in a private copy of it, so the work sees the caller's QueueVars,
structlog keys and current span, and nothing it binds leaks anywhere.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import wraps
from typing import Any, ParamSpec, TypeVar

__all__ = ["ContextThread", "ContextThreadPoolExecutor", "carry"]

P = ParamSpec("P")
R = TypeVar("R")


def carry(fn: Callable[P, R]) -> Callable[P, R]:
    """Capture the current context now; each call of the result runs ``fn`` in a copy of it.

    >>> import threading
    >>> from ctxcarry import QueueVar
    >>> job_region = QueueVar("doc_region", default=None)
    >>> seen = []
    >>> with job_region("eu"):
    ...     worker = threading.Thread(target=carry(lambda: seen.append(job_region.get())))
    >>> worker.start(); worker.join()
    >>> seen
    ['eu']
    """
    captured = contextvars.copy_context()

    @wraps(fn)
    def run_in_captured_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run_in_captured_context


class ContextThread(threading.Thread):
    """A ``threading.Thread`` that runs in a copy of the context it was created in."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        super().__init__(group, target, name, args, kwargs, daemon=daemon)
        self._ctxcarry_context = contextvars.copy_context()

    def run(self) -> None:
        self._ctxcarry_context.run(super().run)


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose jobs run in a copy of the submitter's context."""

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        run_in_copy: Callable[..., R] = contextvars.copy_context().run
        return super().submit(run_in_copy, fn, *args, **kwargs)
