"""Property tests: round trips, junk, and exact restore, each in a fresh context."""

from __future__ import annotations

import contextvars
import json
from typing import Any

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxcarry import Carrier, extract, inject
from tests.core.helpers import context_state
from tests.core.vars import payload, region, tenant_id

# A fixed pool of key names: structlog keeps one ContextVar per name forever, and
# the per-process allowance of new names must not be spent by the tests.
KEY_NAMES = st.sampled_from([f"prop_key_{i}" for i in range(12)] + ["request_id", "user.id"])

# What may travel (docs/wire-format.md): I-JSON plus no U+0000.
travel_text = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(travel_text, max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(travel_text, max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
junk_values = st.recursive(
    json_scalars
    | st.binary(max_size=8)
    | st.sets(st.integers(), max_size=3)
    | st.just(...)
    | st.floats(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children)
        | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=3)
    ),
    max_leaves=12,
)
junk_carriers = st.one_of(
    junk_values,
    st.dictionaries(
        st.sampled_from(["traceparent", "tracestate", "baggage", "structlog_context", "ctxcarry"])
        | st.text(max_size=10),
        junk_values
        | st.fixed_dictionaries(
            {
                "v": junk_values | st.integers(-2, 3),
                "vars": st.dictionaries(
                    st.sampled_from(["core_tenant_id", "core_org_id", "priority", "core_region"])
                    | st.text(max_size=6),
                    junk_values,
                    max_size=4,
                ),
            }
        )
        | st.dictionaries(KEY_NAMES | st.text(max_size=6), junk_values, max_size=4),
        max_size=5,
    ),
)


def in_fresh_context(fn: Any, *args: Any) -> Any:
    return contextvars.Context().run(fn, *args)


@settings(max_examples=200, deadline=None)
@given(tenant=json_values, data=json_values, log=st.dictionaries(KEY_NAMES, json_values))
def test_any_json_value_round_trips_exactly(tenant: Any, data: Any, log: dict[str, Any]) -> None:
    def produce() -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(**log)
        with tenant_id(tenant), payload(data):
            return json.loads(json.dumps(inject(), allow_nan=False))

    def consume(carrier: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
        with extract(carrier):
            return tenant_id.get(), payload.get(), structlog.contextvars.get_contextvars()

    carrier = in_fresh_context(produce)
    got_tenant, got_data, got_log = in_fresh_context(consume, carrier)
    assert got_tenant == tenant
    assert type(got_tenant) is type(tenant)
    assert got_data == data
    assert got_log == log
    assert json.dumps(got_data, sort_keys=True) == json.dumps(data, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(carrier=junk_carriers, worker_log=st.dictionaries(KEY_NAMES, json_values, max_size=3))
def test_extract_never_raises_and_never_leaks_on_junk(carrier: Any, worker_log: Any) -> None:
    def check() -> None:
        structlog.contextvars.bind_contextvars(**worker_log)
        before = context_state()
        with region("worker"), extract(carrier) as ctx:
            assert region.get() == ctx.get(region, "eu-west")
            structlog.contextvars.bind_contextvars(bound_inside=1)
        assert context_state() == before

    in_fresh_context(check)


@settings(max_examples=200, deadline=None)
@given(
    carried=st.dictionaries(KEY_NAMES, json_values, max_size=4),
    worker=st.dictionaries(KEY_NAMES, json_values, max_size=4),
    inside=st.dictionaries(KEY_NAMES, json_values, max_size=4),
    unbind=st.lists(KEY_NAMES, max_size=3),
    tenant_inside=json_values,
    raise_inside=st.booleans(),
)
def test_after_any_block_the_context_equals_what_it_was(
    carried: Any, worker: Any, inside: Any, unbind: Any, tenant_inside: Any, raise_inside: bool
) -> None:
    def check() -> None:
        structlog.contextvars.bind_contextvars(**worker)
        before = context_state()
        try:
            with extract({"structlog_context": carried}):
                assert structlog.contextvars.get_contextvars() == {**worker, **carried}
                structlog.contextvars.bind_contextvars(**inside)
                structlog.contextvars.unbind_contextvars(*unbind)
                tenant_id.set(tenant_inside)
                if raise_inside:
                    raise KeyError("handler failed")
        except KeyError:
            pass
        assert context_state() == before

    in_fresh_context(check)


@settings(max_examples=150, deadline=None)
@given(
    log=st.dictionaries(KEY_NAMES, json_values, max_size=8),
    max_bytes=st.integers(min_value=256, max_value=2048),
)
def test_inject_always_fits_its_budget(log: dict[str, Any], max_bytes: int) -> None:
    def produce() -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(**log)
        with tenant_id("t" * 100):
            return Carrier(max_bytes=max_bytes).inject()

    carrier = in_fresh_context(produce)
    assert len(json.dumps(carrier, separators=(",", ":"))) <= max_bytes
