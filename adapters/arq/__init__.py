"""arq adapter: every job runs in the context it was enqueued in.

The carrier travels in arq's own job envelope, next to the function name and
arguments, under one key, :data:`ENVELOPE_KEY` (``"ctxcarry"``): never in the
job's kwargs, so it is not printed in arq's log lines, and a worker without
the adapter ignores it (arq reads only the keys it knows). Two seams that arq
supports put it there and take it out:

- producer (web process, scripts): ``create_pool(settings, **pool_options())``
  wraps the pool's job serializer, which writes the current context into
  every job the pool enqueues;
- worker: ``worker_settings(WorkerSettings)`` (also a class decorator) wraps
  the worker's serializer and deserializer and adds ``on_job_start`` and
  ``after_job_end`` hooks (composed with yours): the context is restored in
  the task that runs the job, around arq's own log lines, and undone exactly
  after it.

Both call :func:`install` (once per process; ``install(carrier)`` chooses the
Carrier). See ``docs/adapters/arq.md``.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall
from .serializer import ENVELOPE_KEY, PARENT_KEY, pool_options
from .worker import worker_settings

__all__ = [
    "ENVELOPE_KEY",
    "PARENT_KEY",
    "install",
    "is_installed",
    "pool_options",
    "uninstall",
    "worker_settings",
]
