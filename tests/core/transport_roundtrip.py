"""Hostile bound contexts and the round trip through a transport, shared by the property tests.

A drawn :class:`Bound` context holds whatever a careless user can bind: huge
ints, lone surrogates, NUL, objects that raise from every method, deep nesting,
sets and bytes, as structlog values and as attempted QueueVar values. The
property (:func:`check_round_trip`): inject never raises and fits its budget,
the transport's own encoding accepts the carrier, and decoding what the
transport gives back restores exactly what was injected, changing nothing after
the block. Each example runs in a fresh ``contextvars.Context``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from hypothesis import strategies as st

from ctxcarry import Carrier, QueueVar, extract
from ctxcarry._jsonvalue import MAX_SAFE_INTEGER
from ctxcarry._wire import ENVELOPE_KEY, STRUCTLOG_KEY
from tests.core.helpers import context_state
from tests.core.vars import payload, tenant_id

__all__ = ["Bound", "bound_contexts", "check_round_trip"]

KEY_NAMES = st.sampled_from([f"rt_key_{i}" for i in range(10)] + ["request_id", "user.id"])
CARRIED_VARS: tuple[QueueVar[Any], ...] = (tenant_id, payload)


class _Raises(Exception):
    pass


def _boom(*_: Any) -> Any:
    raise _Raises("misbehaving")


class _BadStr:
    __str__ = __repr__ = _boom


class _BadUUID(uuid.UUID):
    __str__ = _boom


class _BadInt(int):
    __int__ = __index__ = __repr__ = _boom


class _BadClass:
    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise _Raises("class")


# An object whose ``__class__`` raises breaks Hypothesis itself, so it is bound
# by ``_produce`` (``Bound.bad_class``) rather than drawn.
_misbehaving: st.SearchStrategy[Any] = st.sampled_from(
    [_BadStr, lambda: _BadUUID(int=3), lambda: _BadInt(5)]
).map(lambda make: make())

_hostile_chars = st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff", "\udcff", "é"])
hostile_text = st.text(_hostile_chars, max_size=30)
hostile_ints = st.integers(min_value=-(2**200), max_value=2**200) | st.sampled_from(
    [MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -(2**63), 2**64, uuid.UUID(int=2**127).int]
)
hostile_scalars = (
    st.none()
    | st.booleans()
    | hostile_ints
    | st.floats()
    | hostile_text
    | st.uuids()
    | st.datetimes()
    | st.decimals()
    | st.binary(max_size=4)
    | _misbehaving
)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


hostile_values = st.recursive(
    hostile_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(hostile_text, children, max_size=3)
        | st.sets(st.integers(), max_size=2)
    ),
    max_leaves=12,
) | st.builds(_nest, hostile_scalars, st.integers(min_value=25, max_value=40))


@dataclass
class Bound:
    """What one example binds before inject."""

    log: dict[str, Any]
    var_values: list[Any]
    max_bytes: int
    bad_class: bool


bound_contexts = st.builds(
    Bound,
    log=st.dictionaries(KEY_NAMES, hostile_values, max_size=6),
    var_values=st.lists(hostile_values, min_size=len(CARRIED_VARS), max_size=len(CARRIED_VARS)),
    max_bytes=st.integers(min_value=256, max_value=4096),
    bad_class=st.booleans(),
)


def _produce(bound: Bound) -> dict[str, Any]:
    structlog.contextvars.bind_contextvars(**bound.log)
    if bound.bad_class:
        structlog.contextvars.bind_contextvars(rt_key_0=_BadClass(), rt_key_1=[1, _BadClass()])
    for var, value in zip(CARRIED_VARS, bound.var_values, strict=True):
        with contextlib.suppress(TypeError):  # refused where it is set: the var stays unset
            var.set(value)
    return Carrier(max_bytes=bound.max_bytes).inject()


def _consume(carrier: Any, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    structlog.contextvars.bind_contextvars(worker_key="w")
    before = context_state()
    with extract(carrier) as ctx:
        seen_vars = {var.name: var.get() for var in CARRIED_VARS if var in ctx}
        seen_log = structlog.contextvars.get_contextvars()
    assert context_state() == before, "the block leaked into the worker"
    decoded = Carrier(max_bytes=max_bytes).decode(carrier)
    assert decoded.dropped == (), decoded.dropped
    return seen_vars, {k: v for k, v in seen_log.items() if k != "worker_key"}


def check_round_trip(bound: Bound, transport: Callable[[dict[str, Any]], Any]) -> None:
    """inject -> ``transport`` -> extract: see the module docstring."""
    carrier = contextvars.Context().run(_produce, bound)
    assert len(json.dumps(carrier, separators=(",", ":"), allow_nan=False)) <= bound.max_bytes
    received = transport(carrier)
    assert received == carrier
    seen_vars, seen_log = contextvars.Context().run(_consume, received, bound.max_bytes)
    assert seen_log == carrier.get(STRUCTLOG_KEY, {})
    assert seen_vars == carrier.get(ENVELOPE_KEY, {}).get("vars", {})
