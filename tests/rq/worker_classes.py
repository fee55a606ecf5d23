"""Worker classes the tests run with ``rq worker -w``.

``SpawnWorker`` is what the docs recommend for a SpawnWorker with your own
set-up: a subclass in a module that imports your worker settings, so that
the work horse (a new interpreter that imports only this class's module)
sets up the same logging and peers as the worker.

``ParentWatchWorker`` records the parent's own context around every fork:
the adapter must never restore anything in a forking worker's parent.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from rq.worker import Worker

import tests.rq.jobs
import tests.rq.worker_settings  # noqa: F401 - the horse's set-up (see above)
from ctxcarry import registered_vars
from ctxcarry.adapters.rq import SpawnWorker as CarryingSpawnWorker


class SpawnWorker(CarryingSpawnWorker):
    """The adapter's SpawnWorker, importable with this module's set-up."""


def _parent_context() -> dict[str, Any]:
    return {
        "log": structlog.contextvars.get_contextvars(),
        "vars": {var.name: var.get() for var in registered_vars()},
    }


class ParentWatchWorker(Worker):
    """A forking Worker that reports its own context around each job, and while its horse runs."""

    def execute_job(self, job: Any, queue: Any) -> Any:
        self._watch = {"job": job.id, "before": _parent_context()}
        try:
            return super().execute_job(job, queue)
        finally:
            self._watch["after"] = _parent_context()
            self.connection.rpush(f"{queue.name}:parent", json.dumps(self._watch))

    def monitor_work_horse(self, job: Any, queue: Any, execution: Any) -> Any:
        self._watch["during"] = _parent_context()
        return super().monitor_work_horse(job, queue, execution)
