"""``ctxcarry demo``: one request's context, seen on both sides of a queue.

The demo starts, in one process, a Starlette app with ctxcarry's
:class:`~ctxcarry.adapters.starlette.ContextMiddleware` and a worker for the
chosen queue (Celery by default, on kombu's in-process ``memory://`` broker
unless ``--broker`` names a real one). It sends requests for several tenants,
prints the structured logs of the web side and the worker side, including a
nested task and a retry, then checks that every task saw its request's
``request_id``, tenant and ``trace_id``, that an unrelated task saw none of
them, and -- the same request once more with the adapter uninstalled -- that
without ctxcarry none arrive. The exit status says whether all of it held.

Importing this package imports no framework: the runner (Starlette, httpx)
and the queue's module are imported when the demo runs.
"""

from __future__ import annotations

from .queues import QUEUES, DemoError, MissingExtra

__all__ = ["QUEUES", "DemoError", "MissingExtra", "run_demo"]


def run_demo(queue: str = "celery", broker: str | None = None) -> int:
    """Run the demo, print its logs and a summary line; return the exit status (0 = OK).

    Raises :class:`DemoError` (one line) when it cannot run as asked, such
    as :class:`MissingExtra` naming the extra to install.
    """
    try:
        from .runner import run  # Starlette and httpx: only when the demo runs
    except ModuleNotFoundError as exc:
        raise MissingExtra(
            f"the demo needs ctxcarry[demo] ({exc.name} is missing): "
            'pip install "./ctxcarry[demo]" from the folder holding a clone'
        ) from None
    return run(queue, broker)
