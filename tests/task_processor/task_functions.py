"""Task functions the task processor tests enqueue, and what each one saw when it ran.

Each function records a :class:`Seen` under a key passed as an argument, so a
test (or the stress test's 500 tasks) can check that every run saw exactly the
context its own enqueuer had bound.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from opentelemetry import trace
from task_processor.decorators import register_recurring_task, register_task_handler

from ctxcarry import QueueVar
from ctxcarry.kit import TASK_IDENTITY_KEYS

#: A QueueVar set by enqueuers; every task records the value it sees.
tenant: QueueVar[str | None] = QueueVar("tp_tenant", default=None)

tracer = trace.get_tracer("ctxcarry-tests.task_processor")


@dataclass(frozen=True)
class Seen:
    """The context one task function observed while it ran."""

    log: dict[str, Any]
    tenant: str | None
    identity: dict[str, Any]
    trace_id: int
    span_id: int
    inner_span_id: int
    thread: str


class Recorder:
    """Thread-safe ``key -> Seen`` store that tests can wait on."""

    def __init__(self) -> None:
        self._seen: dict[str, Seen] = {}
        self._changed = threading.Condition()

    def record(self, key: str, inner_span_id: int = 0) -> None:
        """Store what the calling code sees now under ``key``."""
        span = trace.get_current_span().get_span_context()
        log = structlog.contextvars.get_contextvars()
        seen = Seen(
            log={k: v for k, v in log.items() if k not in TASK_IDENTITY_KEYS},
            tenant=tenant.get(),
            identity={k: v for k, v in log.items() if k in TASK_IDENTITY_KEYS},
            trace_id=span.trace_id,
            span_id=span.span_id,
            inner_span_id=inner_span_id,
            thread=threading.current_thread().name,
        )
        with self._changed:
            self._seen[key] = seen
            self._changed.notify_all()

    def wait(self, *keys: str, timeout: float = 30.0) -> dict[str, Seen]:
        """Block until every key was recorded; fail the test on timeout."""
        with self._changed:
            done = self._changed.wait_for(lambda: all(k in self._seen for k in keys), timeout)
            missing = [k for k in keys if k not in self._seen]
        assert done, f"tasks never ran: {missing[:10]}"
        return {k: self._seen[k] for k in keys}

    def get(self, key: str) -> Seen | None:
        with self._changed:
            return self._seen.get(key)

    def clear(self) -> None:
        with self._changed:
            self._seen.clear()


recorder = Recorder()

#: Released by the timeout test to let an abandoned task finish.
release_slow_task = threading.Event()


@register_task_handler(task_name="ctxcarry_tp_record")
def record_context(key: str, bind_own: bool = False) -> None:
    """Record the context from a span inside; then optionally bind keys of its own."""
    with tracer.start_as_current_span(f"inside {key}") as inner:
        recorder.record(key, inner.get_span_context().span_id)
    if bind_own:  # must not leak into the runner or the next task
        structlog.contextvars.bind_contextvars(**{f"own_{key}": True})
        tenant.set(f"own-{key}")


@register_task_handler(task_name="ctxcarry_tp_fail")
def fail(key: str) -> None:
    """Record the context, then raise (the processor logs the failure)."""
    recorder.record(key)
    raise RuntimeError(f"task {key} failed on purpose")


@register_task_handler(task_name="ctxcarry_tp_delay_onward")
def delay_onward(key: str, next_key: str) -> None:
    """Record the context, then enqueue ``record_context(next_key)`` from inside the task."""
    with tracer.start_as_current_span(f"inside {key}") as inner:
        recorder.record(key, inner.get_span_context().span_id)
        record_context.delay(args=(next_key,))


@register_task_handler(task_name="ctxcarry_tp_slow", timeout=timedelta(seconds=0.3))
def slow(key: str) -> None:
    """Outlive the 0.3 s timeout, then record the context it still has."""
    recorder.record(f"{key}:start")
    release_slow_task.wait(30)
    recorder.record(f"{key}:end")


@register_recurring_task(run_every=timedelta(seconds=1), task_name="ctxcarry_tp_recurring")
def recurring() -> None:
    """A recurring task: records under a fixed key each time it runs."""
    recorder.record("recurring")
