"""Enqueue side: write the enqueuing context where the task's worker will find it.

Every enqueue path of a backend ends in one place, which runs in the
enqueuing thread (or, for ``aenqueue``, in asgiref's ``sync_to_async`` thread,
which runs in a copy of the caller's context), so the context captured there
is the caller's: ``enqueue``, ``aenqueue``, ``.using(...)`` (any queue,
priority, ``run_after``, backend) and enqueues made inside a running task
(whose context, restored by the run side, is then current, with the task's
current span as the parent of the carried trace).

- Database backend: the ``DBTaskResult`` row is inserted with
  ``objects.create``/``acreate``; :func:`stamp_new_row` (a ``pre_save``
  receiver) adds :data:`~.wire.CARRIER_KEY` to its ``args_kwargs``.
- RQ backend: django-tasks-rq creates its ``Job`` with ``Job.create``;
  :func:`wrap_create` stamps the new job's ``meta``.

The task identity keys (``task_id``, ``task_name``) of a running task are
never carried (``inject`` leaves them out).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from ctxcarry.kit import never_raises

from . import state
from .wire import CARRIER_KEY

__all__ = ["stamp", "stamp_new_row", "wrap_create"]


def stamp(storage: MutableMapping[str, Any]) -> None:
    """Write the current context into ``storage[CARRIER_KEY]`` (nothing bound: no key).

    A key already there (copied, forged) never survives, even if inject fails.
    """
    current = state.active()
    if current is None:
        return
    storage.pop(CARRIER_KEY, None)
    carried = current.installation.carrier.inject()
    if carried:
        storage[CARRIER_KEY] = carried


@never_raises("django-tasks DBTaskResult pre_save")
def stamp_new_row(sender: object, instance: Any, raw: bool = False, **_: object) -> None:
    """``pre_save`` receiver for ``DBTaskResult``: carry the context in ``args_kwargs``.

    Only rows being inserted; the worker's own saves (claim, result) and
    fixtures loaded with ``raw=True`` keep what they have. Never raises: an
    enqueue must not fail because of context (a strict Carrier's error is
    logged and the task goes without a carrier).
    """
    if raw or not instance._state.adding:
        return
    args_kwargs = instance.args_kwargs
    if isinstance(args_kwargs, MutableMapping):
        stamp(args_kwargs)


@never_raises("django-tasks-rq Job.create")
def _stamp_job(job: Any) -> None:
    meta = job.meta
    if isinstance(meta, MutableMapping):
        stamp(meta)


def wrap_create(original: Any) -> classmethod[Any, ..., Any]:
    """Wrap the classmethod ``original`` (django-tasks-rq's ``Job.create``) to stamp ``meta``.

    ``original`` is the classmethod object as found on the class (possibly
    inherited from rq's ``Job``); it is called bound to the class it is called
    on, so subclasses keep working.
    """

    def create(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        bound: Callable[..., Any] = original.__get__(None, cls)
        job = bound(*args, **kwargs)
        _stamp_job(job)
        return job

    create.__doc__ = getattr(original, "__doc__", None)
    create.__name__ = "create"
    create.__qualname__ = getattr(original, "__qualname__", "create")
    return classmethod(create)
