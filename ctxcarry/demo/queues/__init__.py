"""The queues the demo can run on, each behind the same small interface.

``ctxcarry demo --queue NAME`` loads ``ctxcarry.demo.queues.<module>`` and calls
its ``open_queue(broker)``. A queue module imports its framework when it is
loaded, which happens only when the demo runs on it.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["QUEUES", "DemoError", "DemoQueue", "MissingExtra", "open_queue"]


class DemoQueue(Protocol):
    """One queue with ctxcarry's adapter, its worker in this process, and the journey's tasks."""

    #: Shown in the demo's first line, e.g. "Celery (an in-process worker)".
    description: str
    #: The broker URL (shown without its password), or ``""`` for an in-memory queue.
    broker: str
    #: The task runs one request causes (see ``journey``).
    expected_runs: tuple[tuple[str, int | None], ...]

    def check_broker(self) -> None:
        """Raise ``ConnectionError`` with a one-line reason when the broker does not answer."""

    def enqueue_for_request(self, report: str) -> None:
        """What the endpoint does: enqueue ``build_report`` and ``export``."""

    def enqueue_unrelated(self) -> None:
        """Enqueue ``housekeeping``, outside any request."""

    def running(self) -> AbstractContextManager[None]:
        """Run the worker for the block; clean up the broker afterwards."""

    def adapter_installed(self, installed: bool) -> None:
        """Install or uninstall ctxcarry's adapter (the demo's "without ctxcarry" pass)."""


class DemoError(Exception):
    """The demo cannot run as asked; ``str()`` is one line for the user."""


class MissingExtra(DemoError):
    """The queue's packages are not installed; ``str()`` says which extra to install."""


#: ``--queue`` name -> (module under ``ctxcarry.demo.queues``, extra, default broker).
QUEUES: dict[str, tuple[str, str, str]] = {
    "celery": ("celery_queue", "celery", "memory://"),
    "dramatiq": ("dramatiq_queue", "dramatiq", ""),
    "taskiq": ("taskiq_queue", "taskiq", ""),
    "arq": ("arq_queue", "arq", "redis://localhost:6379/0"),
    "rq": ("rq_queue", "rq", "redis://localhost:6379/0"),
    "django-tasks": ("django_tasks_queue", "django-tasks", ""),
}


def open_queue(name: str, broker: str | None) -> DemoQueue:
    """The demo queue ``name`` on ``broker`` (its default when ``None``)."""
    module_name, extra, default_broker = QUEUES[name]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
        queue: DemoQueue = module.open_queue(broker or default_broker)
    except ModuleNotFoundError as exc:  # the queue's framework, imported when it opens
        raise MissingExtra(
            f"the demo on {name} needs ctxcarry[demo,{extra}] ({exc.name} is missing): "
            f'pip install "./ctxcarry[demo,{extra}]" from the folder holding a clone'
        ) from None
    return queue
