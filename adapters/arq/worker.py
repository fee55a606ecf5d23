"""Worker side: restore the carried context around each job, in the task that runs it.

``Worker.run_job`` runs each job in its own asyncio task: it deserializes the
job (our deserializer hands the carrier over, see :mod:`.serializer`), awaits
``on_job_start``, logs ``→ job_id:fn(...)``, runs the job coroutine in a
*new* task created from its context, logs ``←``, awaits ``on_job_end``,
records the result and awaits ``after_job_end``. The adapter's
``on_job_start`` restores the carrier there, so arq's log lines, your hooks
and the job (and anything it enqueues) all see the job's context; its
``after_job_end`` undoes it exactly. Each job has its own task, so concurrent
jobs in one event loop never see each other's context.

Your own hooks are kept: ``on_job_start`` runs after the restore (inside the
job's context), ``on_job_end`` and ``after_job_end`` before the undo. arq
awaits ``on_job_start`` outside its error handling and skips the end hooks
when it raises (the job then stays "in progress" until its timeout and the
worker stops), so the adapter's own hooks never raise, and when *your*
``on_job_start`` or ``on_job_end`` raises, the adapter undoes the context
before the exception goes on to arq.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

from ctxcarry.kit import ScopeStore, bind_task_identity, never_raises

from .installation import binds_task_identity, current, install
from .serializer import (
    CarryingDeserializer,
    _wrapped_deserializer,
    _wrapped_serializer,
    running_job,
    take_handoff,
)

__all__ = ["enter_job", "exit_job", "worker_settings"]

Hook = Callable[[dict[Any, Any]], Awaitable[Any]]
S = TypeVar("S")

_logger = logging.getLogger("ctxcarry")
_scopes = ScopeStore()
_warned_no_handoff = False


def _key(ctx: dict[Any, Any]) -> tuple[object, int]:
    # ``ctx`` is a new dict per job run, alive from on_job_start to after_job_end.
    return (ctx.get("job_id"), id(ctx))


@never_raises("arq on_job_start")
def enter_job(ctx: dict[Any, Any]) -> None:
    """Restore the job's carrier in the ``run_job`` task; bind the job's identity.

    A job without a carrier (enqueued by a process without the adapter) runs
    with every QueueVar at its default, never with a value left in the
    worker. A carrier that cannot be used is dropped with one warning (a
    strict Carrier's error is logged) and the job runs without it.
    """
    installation = current()
    if installation is None:
        return
    handoff = take_handoff()
    if handoff is None:
        _warn_no_handoff(ctx)
    raw = handoff.raw if handoff is not None else None
    scope = installation.carrier.extract(raw, restore_trace="if_no_active_span")
    scope.enter()
    _scopes.put(_key(ctx), scope)
    job_id = ctx.get("job_id")
    running_job.set(job_id if isinstance(job_id, str) else None)  # this task dies with the job
    if binds_task_identity():
        function = handoff.function if handoff is not None else None
        parent = handoff.parent if handoff is not None else None
        bind_task_identity(
            task_id=job_id,
            task_name=function if isinstance(function, str) else None,
            parent_task_id=parent if _is_job_id(parent) else None,
        )


#: Longest parent job id bound from an envelope (arq's ids are 32 characters; yours may
#: be longer); anything else there is not bound.
MAX_PARENT_ID = 256


def _is_job_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_PARENT_ID


@never_raises("arq after_job_end")
def exit_job(ctx: dict[Any, Any]) -> None:
    """Undo what :func:`on_job_start` restored, exactly (also after an uninstall)."""
    scope = _scopes.pop(_key(ctx))
    if scope is not None:
        scope.exit()


def _warn_no_handoff(ctx: dict[Any, Any]) -> None:
    global _warned_no_handoff
    if _warned_no_handoff:
        return
    _warned_no_handoff = True
    _logger.warning(
        "ctxcarry: arq job %s: the worker's job deserializer handed over no carrier; "
        "jobs run without their context. Build the worker with "
        "ctxcarry.adapters.arq.worker_settings() and keep its job_deserializer.",
        ctx.get("job_id"),
    )


class _Composed:
    """An arq hook: the adapter's part plus the user's own hook, if any."""

    __slots__ = ("user",)

    def __init__(self, user: Hook | None) -> None:
        self.user = user


class _OnJobStart(_Composed):
    async def __call__(self, ctx: dict[Any, Any]) -> None:
        enter_job(ctx)
        if self.user is not None:
            try:
                await self.user(ctx)
            except BaseException:
                exit_job(ctx)  # arq will skip every end hook
                raise


class _OnJobEnd(_Composed):
    async def __call__(self, ctx: dict[Any, Any]) -> None:
        if self.user is not None:
            try:
                await self.user(ctx)
            except BaseException:
                exit_job(ctx)  # arq will skip after_job_end
                raise


class _AfterJobEnd(_Composed):
    async def __call__(self, ctx: dict[Any, Any]) -> None:
        try:
            if self.user is not None:
                await self.user(ctx)
        finally:
            exit_job(ctx)


def worker_settings(settings: S) -> S:
    """Make an arq worker carry context; returns ``settings`` (usable as a class decorator).

    ``settings`` is what ``arq`` is given: a ``WorkerSettings`` class, or the
    dict of ``Worker(**settings)`` keyword arguments. It is changed in place:

    - ``job_serializer``/``job_deserializer`` are wrapped (yours, or pickle),
      so the worker reads carriers and its own pool (``ctx["redis"]``) writes
      them for nested enqueues and cron jobs;
    - ``on_job_start``, ``on_job_end``, ``after_job_end`` are composed with
      yours (see the module docstring);
    - a ``redis_pool`` given in the settings gets the same serializers.

    Idempotent. Calls :func:`install` (without a Carrier).
    """
    install()
    get, put = _accessors(settings)
    put("job_serializer", _wrapped_serializer(get("job_serializer")))
    put("job_deserializer", _wrapped_deserializer(get("job_deserializer"), hands_off=True))
    for name, kind in (
        ("on_job_start", _OnJobStart),
        ("on_job_end", _OnJobEnd),
        ("after_job_end", _AfterJobEnd),
    ):
        user = get(name)
        if isinstance(user, _Composed) or (user is None and kind is _OnJobEnd):
            continue  # composed already; an on_job_end of our own would only cost an await
        put(name, kind(user))
    pool = get("redis_pool")
    if pool is not None and hasattr(pool, "job_serializer"):
        pool.job_serializer = _wrapped_serializer(pool.job_serializer)
        if not isinstance(pool.job_deserializer, CarryingDeserializer):
            pool.job_deserializer = _wrapped_deserializer(pool.job_deserializer, hands_off=False)
    return settings


def _accessors(settings: Any) -> tuple[Callable[[str], Any], Callable[[str, Any], None]]:
    """Read and write settings the way arq reads them (a dict, or the object's own ``__dict__``)."""
    if isinstance(settings, MutableMapping):
        return settings.get, settings.__setitem__
    own = vars(settings)  # arq reads settings_cls.__dict__, not inherited attributes

    def put(name: str, value: Any) -> None:
        setattr(settings, name, value)

    return own.get, put
