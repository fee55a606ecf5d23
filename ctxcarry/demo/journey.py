"""The demo's journey, the same on every queue: what each task does and logs.

A request enqueues ``build_report`` and ``export``; ``build_report`` enqueues
``notify`` from the worker (a second hop); ``export`` fails its first attempt
and is retried (a publish made by the worker); ``housekeeping`` is enqueued
outside any request and must see no request's context. Each queue's module
(:mod:`ctxcarry.demo.queues`) only wires these functions to its own tasks.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

__all__ = [
    "EXPECTED_RUNS",
    "EXPECTED_RUNS_WITHOUT_RETRY",
    "build_report",
    "export",
    "housekeeping",
    "notify",
]

log = structlog.get_logger(side="worker")

#: The task runs one request causes: its two tasks, the nested task, and the retry.
EXPECTED_RUNS = (("build_report", None), ("notify", None), ("export", 1), ("export", 2))
#: The same for a queue without retries in the demo (the export runs once).
EXPECTED_RUNS_WITHOUT_RETRY = (("build_report", None), ("notify", None), ("export", None))


def build_report(report: str, enqueue_notify: Callable[[str], object]) -> None:
    """Enqueued by the endpoint; enqueues ``notify`` in turn, from the worker."""
    log.info(f"build_report: building {report}", task="build_report")
    enqueue_notify(report)


def notify(report: str) -> None:
    """Enqueued by ``build_report``: the context crosses a second hop."""
    log.info(f"notify: report {report} is ready (task enqueued by a task)", task="notify")


def export(report: str, attempt: int | None) -> bool:
    """Return ``False`` on the first attempt: the queue then retries it.

    ``attempt=None`` is a queue without retries in the demo: it succeeds at once.
    """
    if attempt == 1:
        log.info("export: storage busy, retrying", task="export", attempt=attempt)
        return False
    where = f" on attempt {attempt}" if attempt is not None else ""
    log.info(f"export: exported {report}{where}", task="export", attempt=attempt)
    return True


def housekeeping() -> None:
    """Enqueued outside any request: it must see no request's context."""
    log.info("housekeeping: enqueued outside any request", task="housekeeping")
