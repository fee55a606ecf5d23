"""The job functions the real rq workers run in these tests.

The worker imports this module only when it runs a job (rq imports job
functions lazily), so ``rq_tenant`` is registered in a work horse only
because the adapter imports the job's function before it restores.

A *probe* reports what it sees -- the QueueVar, the structlog contextvars,
the current trace ids, its pid -- then binds a key and sets the QueueVar and
never undoes either: the adapter must.
"""

from __future__ import annotations

import json
import os
from typing import Any

import structlog
from opentelemetry import trace
from rq import Queue, get_current_job

from ctxcarry import QueueVar

rq_tenant = QueueVar("rq_tenant", default=None)


def seen(label: str) -> dict[str, Any]:
    """What a job (or a callback) sees right now."""
    context = trace.get_current_span().get_span_context()
    return {
        "label": label,
        "tenant": rq_tenant.get(),
        "log": structlog.contextvars.get_contextvars(),
        "trace_id": format(context.trace_id, "032x") if context.is_valid else None,
        "span_id": format(context.span_id, "016x") if context.is_valid else None,
        "recording": trace.get_current_span().is_recording(),
        "pid": os.getpid(),
    }


def _dirty(label: str) -> None:
    structlog.contextvars.bind_contextvars(**{f"leak_{label}": True})
    rq_tenant.set(f"leaked-by-{label}")


def probe(label: str) -> dict[str, Any]:
    """Report, then leave bindings behind."""
    report = seen(label)
    _dirty(label)
    return report


async def async_probe(label: str) -> dict[str, Any]:
    """The same, as a coroutine (rq runs it with asyncio.run in the same thread)."""
    report = seen(label)
    _dirty(label)
    return report


def _queue() -> Queue:
    job = get_current_job()
    assert job is not None
    return Queue(job.origin, connection=job.connection)


def enqueue_child(label: str) -> dict[str, Any]:
    """Bind a key of its own, then enqueue a probe: the child inherits both."""
    structlog.contextvars.bind_contextvars(step=f"parent-{label}")
    child = _queue().enqueue(probe, f"child-{label}")
    return {"child": child.id, "parent": seen(label)}


def flaky(label: str) -> dict[str, Any]:
    """Fail on the first try; succeed (and report) on the retry."""
    job = get_current_job()
    assert job is not None
    tries = job.connection.incr(f"{job.origin}:tries:{job.id}")
    report = seen(label)
    job.connection.rpush(f"{job.origin}:tries", json.dumps({"try": tries, **report}))
    _dirty(label)
    if tries == 1:
        raise RuntimeError("first try fails")
    return report


def fail(label: str) -> None:
    """Always fails (its failure callback reports)."""
    _dirty(label)
    raise RuntimeError(f"{label} fails")


def record_success(job: Any, connection: Any, result: Any) -> None:
    """on_success callback: reports what it sees in the job's queue's list."""
    connection.rpush(f"{job.origin}:callbacks", json.dumps(seen(f"success-{job.id}")))


def record_failure(job: Any, connection: Any, *exc_info: Any) -> None:
    """on_failure callback: reports what it sees."""
    connection.rpush(f"{job.origin}:callbacks", json.dumps(seen(f"failure-{job.id}")))
