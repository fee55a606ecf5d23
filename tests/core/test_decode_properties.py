"""Properties of decoding an untrusted carrier: the budget holds, and the fast paths agree.

Decoding has fast paths for the shape inject writes (known names, strings,
small ints) and an item-by-item path for everything else. A read-only
``MappingProxyType`` section always takes the item-by-item path, so decoding
the same data as a dict and as a proxy must give the same result.
"""

from __future__ import annotations

import contextvars
import json
import math
import types
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ctxcarry import Carrier, QueueContext
from tests.core import vars as core_vars  # noqa: F401  (registers the core QueueVars)
from tests.core.test_properties import KEY_NAMES, json_values

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

strings = st.text(max_size=400) | st.text(
    alphabet='"\\\n\x00\U0001f600\u00e9\ud800\udc00', max_size=200
)
# What inject writes (the fast paths' shape), with a float now and then: NaN
# and Infinity are not JSON and must never slip through a fast path.
plain_values = (
    strings
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**53 - 1, 2**53, -(2**53), 7.205759403792359e16])
    | st.floats()
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | st.booleans()
)
section_values = plain_values | st.none() | json_values
var_names = st.sampled_from(
    ["core_tenant_id", "core_org_id", "core_region", "core_payload", "priority", "unknown_var"]
)
carriers = st.fixed_dictionaries(
    {},
    optional={
        "traceparent": st.just(TRACEPARENT) | st.text(max_size=60),
        "tracestate": st.just("vendor=value") | st.text(max_size=30),
        "structlog_context": st.dictionaries(KEY_NAMES, plain_values, max_size=8)
        | st.dictionaries(KEY_NAMES | st.text(max_size=6), section_values, max_size=8),
        "ctxcarry": st.fixed_dictionaries(
            {
                "v": st.just(1) | st.integers(-1, 3),
                "vars": st.dictionaries(var_names, plain_values, max_size=5)
                | st.dictionaries(var_names, section_values, max_size=5),
            }
        ),
    },
)


def _decoded_as_carrier(decoded: QueueContext) -> dict[str, Any]:
    """What the decoded context would be on the wire, laid out as inject writes it."""
    carrier: dict[str, Any] = dict(decoded.trace_headers)
    if decoded.log_context:
        carrier["structlog_context"] = dict(decoded.log_context)
    if decoded or decoded.log_context:
        wire = {var.name: slot[1] for var, slot in decoded._checked_slots().items()}
        carrier["ctxcarry"] = {"v": 1, "vars": wire}
    return carrier


def _as_read_only_sections(carrier: dict[str, Any]) -> types.MappingProxyType[str, Any]:
    """The same data with every section a read-only mapping (the item-by-item path)."""
    proxied: dict[str, Any] = {}
    for key, value in carrier.items():
        if key == "ctxcarry" and isinstance(value, dict):
            envelope = dict(value)
            if isinstance(envelope.get("vars"), dict):
                envelope["vars"] = types.MappingProxyType(envelope["vars"])
            value = types.MappingProxyType(envelope)
        elif isinstance(value, dict):
            value = types.MappingProxyType(value)
        proxied[key] = value
    return types.MappingProxyType(proxied)


def _summary(decoded: QueueContext) -> tuple[Any, ...]:
    slots = {var.name: slot[1] for var, slot in decoded._checked_slots().items()}
    return slots, dict(decoded.log_context), dict(decoded.trace_headers), decoded.version


@settings(max_examples=300, deadline=None)
@given(carrier=carriers, max_bytes=st.integers(min_value=256, max_value=3000))
def test_what_decode_keeps_always_fits_max_bytes(carrier: dict[str, Any], max_bytes: int) -> None:
    decoded = contextvars.Context().run(Carrier(max_bytes=max_bytes).decode, carrier)

    kept = json.dumps(_decoded_as_carrier(decoded), separators=(",", ":"))

    assert len(kept) <= max_bytes


@settings(max_examples=300, deadline=None)
@given(carrier=carriers, max_bytes=st.integers(min_value=256, max_value=3000))
def test_dict_sections_and_read_only_sections_decode_alike(
    carrier: dict[str, Any], max_bytes: int
) -> None:
    config = Carrier(max_bytes=max_bytes)

    fast = contextvars.Context().run(config.decode, carrier)
    careful = contextvars.Context().run(config.decode, _as_read_only_sections(carrier))

    assert _summary(fast) == _summary(careful)
    assert fast.dropped == careful.dropped
