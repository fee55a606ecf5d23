"""Enqueue side: every rq job is created with the context current at that moment.

Every way of making a job goes through the classmethod ``Job.create``:
``enqueue``, ``enqueue_call``, ``enqueue_at``/``enqueue_in``,
``enqueue_many`` (through ``Queue.create_job``), ``@job(...).delay``, jobs
with ``depends_on``, django-tasks-rq, and jobs enqueued from inside a running
job. Hooking ``Job.create`` rather than ``Queue.enqueue_job`` (sentry-sdk's
hook) is what carries scheduled and bulk jobs too. Retries, repeats, released
dependents and scheduled jobs coming due reuse the stored job, and with it
the carrier written when it was created.
"""

from __future__ import annotations

from typing import Any

from ctxcarry.kit import never_raises

from .state import active_installation, running_job
from .wire import META_KEY, PARENT_FIELD

__all__ = ["stamp"]


@never_raises("rq Job.create")
def stamp(job: Any) -> None:
    """Write the current context into ``job.meta[META_KEY]``.

    ``job.meta`` is replaced by a copy first: rq keeps the caller's own dict
    (``meta=`` of ``enqueue``, a ``prepare_data`` tuple), which may be shared
    by many jobs and must not change. A carrier copied in from elsewhere is
    dropped, so the context current at this enqueue always wins, even when a
    strict Carrier refuses it (the job then goes without one). Inside a
    running job the carrier also names that job as the parent.
    """
    installation = active_installation()
    if installation is None:
        return
    meta = job.meta
    if type(meta) is not dict:
        return  # rq always makes a dict; leave anything else to its owner
    fresh = dict(meta)
    fresh.pop(META_KEY, None)
    job.meta = fresh
    parent = running_job.get()
    carried = installation.carrier.inject({PARENT_FIELD: parent.id} if parent is not None else None)
    if carried:
        fresh[META_KEY] = carried
