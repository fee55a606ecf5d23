"""``ctxcarry demo``: one request's context, seen on both sides of a Celery queue.

The demo starts, in one process, a Starlette app with ctxcarry's
:class:`~ctxcarry.adapters.starlette.ContextMiddleware` and a Celery worker
(on kombu's in-process ``memory://`` broker unless ``--broker`` names a real
one). It sends requests for several tenants, prints the structured logs of the
web side and the worker side, including a nested task and a retry, then checks
that every task saw its request's ``request_id``, tenant and ``trace_id`` and
that an unrelated task saw none of them. The exit status says whether it did.

Importing this package imports no framework: :func:`run_demo` imports
Starlette, Celery and httpx when it runs.
"""

from __future__ import annotations

__all__ = ["run_demo"]


def run_demo(broker: str = "memory://") -> int:
    """Run the demo, print its logs and a summary line; return the exit status (0 = OK)."""
    from .runner import run

    return run(broker)
