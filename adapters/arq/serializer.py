"""The job envelope: the carrier travels in arq's serialized job, under one key.

arq stores a job as ``serializer({'t', 'f', 'a', 'k', 'et'})`` (pickle unless
the pool or the worker is given ``job_serializer``/``job_deserializer``). The
adapter wraps those two functions, the seams arq supports on
``create_pool``/``ArqRedis`` and on the ``Worker``:

- :class:`CarryingSerializer` adds :data:`ENVELOPE_KEY` with
  ``Carrier.inject()`` to every *job* it serializes (results, which carry
  ``'s'``, are left alone). It runs inside ``ArqRedis.enqueue_job``, in the
  caller's context: the web request's, or on the worker the running job's
  (nested enqueues) or the worker's own (cron jobs).
- :class:`CarryingDeserializer` returns what the wrapped deserializer returns,
  unchanged. On the worker it also hands the carrier and the function name
  over to the ``on_job_start`` hook: ``Worker.run_job`` deserializes the job
  in the very asyncio task that then awaits ``on_job_start``, so the hand-off
  is a ContextVar of that task, tagged with the task (see :func:`take_handoff`).

Why the envelope and not a kwarg: a kwarg is printed in arq's INFO line for
every job (``→ job_id:fn(..., ctxcarry={...})``), is passed to the function by
a worker without the adapter (``TypeError: unexpected keyword argument``), and
is invisible to arq's hooks. ``deserialize_job_raw`` reads only the keys it
knows, so a worker without the adapter ignores the envelope key.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import pickle
from collections.abc import Callable
from typing import Any

from ctxcarry.kit import never_raises

from .installation import current, install

__all__ = [
    "ENVELOPE_KEY",
    "PARENT_KEY",
    "CarryingDeserializer",
    "CarryingSerializer",
    "Handoff",
    "pool_options",
    "running_job",
    "take_handoff",
]

#: The key of arq's job envelope that holds the carrier (the dict
#: ``Carrier.inject`` returns). arq's own keys are one or two letters.
ENVELOPE_KEY = "ctxcarry"
#: The key that holds the id of the job that enqueued this one (nested enqueues only).
PARENT_KEY = "ctxcarry_parent"

Serializer = Callable[[dict[str, Any]], bytes]
Deserializer = Callable[[bytes], dict[str, Any]]

_logger = logging.getLogger("ctxcarry")


class Handoff:
    """What the worker's deserializer found for the job its task is about to run."""

    __slots__ = ("function", "parent", "raw", "task")

    def __init__(self, task: object, function: object, raw: object, parent: object) -> None:
        self.task = task
        self.function = function
        self.raw = raw
        self.parent = parent


_handoff: contextvars.ContextVar[Handoff | None] = contextvars.ContextVar(
    "ctxcarry_arq_handoff", default=None
)

#: The id of the job running in this context (set by the worker's ``on_job_start``,
#: seen by the job's coroutine, which arq creates from that context): the parent
#: of whatever the job enqueues.
running_job: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ctxcarry_arq_running_job", default=None
)


def _is_job(data: object) -> bool:
    """A job envelope (``'f'``, no ``'s'``), not a result."""
    return isinstance(data, dict) and "f" in data and "s" not in data


def _running_task() -> object:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None


class CarryingSerializer:
    """Wraps a job serializer: jobs get the current context under :data:`ENVELOPE_KEY`.

    Never fails an enqueue because of context: an unusable context (or a
    strict Carrier's error) is logged and the job goes without a carrier, and
    so does a job whose wrapped serializer cannot encode the carrier.
    """

    __slots__ = ("inner",)

    def __init__(self, inner: Serializer | None = None) -> None:
        self.inner: Serializer = inner if inner is not None else pickle.dumps

    def __call__(self, data: dict[str, Any]) -> bytes:
        extra = _envelope_keys_for(data)
        if extra:
            try:
                return self.inner({**data, **extra})
            except Exception as exc:
                _logger.warning(
                    "ctxcarry: arq's job serializer cannot encode the carrier (%s); "
                    "the job goes without it",
                    type(exc).__name__,
                )
        return self.inner(data)


@never_raises("arq job serializer")
def _envelope_keys_for(data: object) -> dict[str, Any] | None:
    """The keys to add to a job envelope: the carrier, and the enqueuing job's id."""
    installation = current()
    if installation is None or not _is_job(data):
        return None
    extra: dict[str, Any] = {}
    carried = installation.carrier.inject()
    if carried:
        extra[ENVELOPE_KEY] = carried
    parent = running_job.get()
    if parent is not None:
        extra[PARENT_KEY] = parent
    return extra


class CarryingDeserializer:
    """Wraps a job deserializer; on a worker, hands the job's carrier to ``on_job_start``.

    ``hands_off`` is true only for the deserializer a Worker uses to read the
    jobs it runs; a pool's deserializer (``job.info()``, results) hands off
    nothing.
    """

    __slots__ = ("hands_off", "inner")

    def __init__(self, inner: Deserializer | None = None, *, hands_off: bool = False) -> None:
        self.inner: Deserializer = inner if inner is not None else pickle.loads
        self.hands_off = hands_off

    def __call__(self, raw: bytes) -> dict[str, Any]:
        data = self.inner(raw)
        if self.hands_off:
            _hand_off(data)
        return data


@never_raises("arq job deserializer")
def _hand_off(data: object) -> None:
    if current() is None or not _is_job(data):
        return
    assert isinstance(data, dict)
    get = dict.get
    _handoff.set(
        Handoff(_running_task(), get(data, "f"), get(data, ENVELOPE_KEY), get(data, PARENT_KEY))
    )


def take_handoff() -> Handoff | None:
    """The hand-off made in *this* asyncio task, or ``None``; it is consumed.

    A hand-off made in another task (inherited through a context copy) is
    never used: a job must not run with another job's context.
    """
    handoff = _handoff.get()
    if handoff is None:
        return None
    _handoff.set(None)
    if handoff.task is None or handoff.task is not _running_task():
        return None
    return handoff


def pool_options(
    job_serializer: Serializer | None = None, job_deserializer: Deserializer | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``arq.create_pool`` (or ``ArqRedis``) that carry context.

    ``create_pool(RedisSettings(), **pool_options())``: every job enqueued
    through the pool carries the context current at ``enqueue_job``. Pass your
    own ``job_serializer``/``job_deserializer`` (msgpack, JSON) to have them
    wrapped; the carrier is a JSON-safe dict, which any of them can encode.
    Calls :func:`install` (without a Carrier: an earlier choice stays).
    """
    install()
    return {
        "job_serializer": _wrapped_serializer(job_serializer),
        "job_deserializer": _wrapped_deserializer(job_deserializer, hands_off=False),
    }


def _wrapped_serializer(inner: Serializer | None) -> CarryingSerializer:
    if isinstance(inner, CarryingSerializer):
        return inner
    return CarryingSerializer(inner)


def _wrapped_deserializer(inner: Deserializer | None, *, hands_off: bool) -> CarryingDeserializer:
    if isinstance(inner, CarryingDeserializer):
        if inner.hands_off == hands_off:
            return inner
        return CarryingDeserializer(inner.inner, hands_off=hands_off)
    return CarryingDeserializer(inner, hands_off=hands_off)
