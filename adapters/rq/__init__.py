"""RQ adapter: every rq job runs in the context it was enqueued in.

Call ``install()`` once in every process that enqueues or runs jobs: in the
web app's start-up, and in the worker's settings module (``rq worker -c``).
It wraps three rq methods (rq has no hooks):

- ``Job.create``: every job, made by any enqueue path, gets the current
  context in ``job.meta["ctxcarry"]`` (:data:`META_KEY`);
- ``BaseWorker.perform_job``: the work horse (or a SimpleWorker) restores it
  around everything rq does for the job, and undoes it exactly afterwards;
- ``Queue.run_sync``: ``is_async=False`` runs leave the caller exactly intact.

For rq's ``SpawnWorker`` use :class:`SpawnWorker` (``-w
ctxcarry.adapters.rq.SpawnWorker``): its work horse is a new interpreter.

See ``docs/adapters/rq.md``.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall
from .wire import META_KEY, PARENT_FIELD
from .workers import SpawnWorker

__all__ = ["META_KEY", "PARENT_FIELD", "SpawnWorker", "install", "is_installed", "uninstall"]
