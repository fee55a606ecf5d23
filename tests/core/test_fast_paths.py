"""Every fast path against its slow path (issue 12): same result, and a bound that holds.

Each fast path takes only what its slow path would keep unchanged, and bounds
its size at least as high as the exact size. Drawn inputs include what a
non-default propagator can write (non-ASCII, quotes, control characters,
extra fields with odd names) and what a hostile carrier holds (lone
surrogates, NUL, huge numbers). Each example runs in a fresh context.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ctxcarry import Carrier, extract
from ctxcarry import _jsonvalue as jsonvalue
from ctxcarry._jsonvalue import NotJSON, sanitize_loose, snapshot_exact, string_size
from ctxcarry._problems import Problems
from ctxcarry._trace import (
    _filter_baggage_members,
    _traceparent_problem,
    extract_trace,
    filter_baggage,
    is_common_traceparent,
)

odd_text = st.text(
    st.characters() | st.sampled_from(['"', "\\", "\x00", "\x1f", "\ud800", "é", "\U0001f600"]),
    max_size=60,
)
field_names = st.sampled_from(["traceparent", "tracestate", "baggage", "x-vendor", "b3"]) | st.text(
    max_size=8
)
numbers = st.integers(min_value=-(2**60), max_value=2**60) | st.floats()
scalars = st.none() | st.booleans() | numbers | odd_text


class FieldsPropagator(TextMapPropagator):
    """A propagator that writes whatever fields it was given."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.values = fields

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        carrier.update(self.values)

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        return context or get_current()

    @property
    def fields(self) -> set[str]:
        return {k for k in self.values if isinstance(k, str)}


@pytest.fixture(autouse=True)
def _keep_global_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(previous)


def _exact_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


# ------------------------------------------------------------------ inject


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(field_names, odd_text | st.integers(), max_size=5))
def test_inject_trace_fast_path_keeps_what_the_slow_path_keeps(fields: dict[str, Any]) -> None:
    propagate.set_global_textmap(FieldsPropagator(fields))
    carrier = Carrier()
    fast, fast_bound = carrier._capture_trace(Problems())
    slow, slow_bound = carrier._drop_bad_trace(dict(fields), Problems())
    assert fast == slow
    assert fast_bound == slow_bound
    assert fast_bound >= sum(len(k) + _exact_size(v) + 4 for k, v in fast.items())


@settings(max_examples=300, deadline=None)
@given(value=odd_text)
def test_inject_inline_string_path_matches_the_loose_conversion(value: str) -> None:
    """inject keeps an ASCII string without NUL inline; the conversion must agree."""
    changed: set[str] = set()
    converted, size = sanitize_loose(value, 1 << 20, changed)
    if value.isascii() and "\x00" not in value:
        assert (converted, changed) == (value, set())
        assert 12 * len(value) + 2 >= size == _exact_size(value)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(field_names, odd_text, max_size=3),
    log=st.dictionaries(st.sampled_from([f"fp_{i}" for i in range(8)]), scalars, max_size=6),
    max_bytes=st.integers(min_value=256, max_value=1500),
    max_keys=st.integers(min_value=0, max_value=8),
)
def test_inject_skips_the_limits_only_when_the_limits_would_change_nothing(
    fields: dict[str, Any], log: dict[str, Any], max_bytes: int, max_keys: int
) -> None:
    def check() -> None:
        propagate.set_global_textmap(FieldsPropagator(fields))
        structlog.contextvars.bind_contextvars(**log)
        carrier = Carrier(max_bytes=max_bytes, max_keys=max_keys)
        problems = Problems()
        trace, trace_bound = carrier._capture_trace(problems)
        queuevars, kept_log, bound = carrier._capture_context(problems)
        if trace_bound + bound <= max_bytes and len(queuevars) + len(kept_log) <= max_keys:
            later = Problems()
            assert carrier._enforce_limits(trace, queuevars, kept_log, later) == (
                trace,
                queuevars,
                kept_log,
            )
            assert later == []
        written = carrier.inject()
        assert len(json.dumps(written, separators=(",", ":"))) <= max_bytes

    contextvars.Context().run(check)


# ------------------------------------------------------------------ values


@settings(max_examples=500, deadline=None)
@given(
    items=st.lists(numbers | st.booleans(), max_size=40)
    | st.lists(odd_text, max_size=40)
    | st.lists(scalars, max_size=40),
    limit=st.integers(min_value=0, max_value=3000),
)
def test_scalar_list_fast_path_matches_the_item_by_item_walk(items: list[Any], limit: int) -> None:
    def outcome(fn: Any) -> Any:
        try:
            return fn(items, 0, limit)
        except NotJSON as exc:
            return type(exc)

    fast, slow = outcome(jsonvalue._exact_list), outcome(jsonvalue._exact_list_walk)
    if isinstance(slow, tuple):
        assert fast == slow
        assert slow[1] == _exact_size(slow[0])
    else:  # both refuse (the reason named may differ: the first problem found)
        assert not isinstance(fast, tuple)


@settings(max_examples=300, deadline=None)
@given(value=scalars, limit=st.integers(min_value=0, max_value=500))
def test_decode_scalar_measure_matches_the_exact_walk(value: Any, limit: int) -> None:
    from ctxcarry._carrier import _Room

    try:
        fast: Any = _Room(limit).measure(value)
    except NotJSON:
        fast = None
    try:
        exact: Any = snapshot_exact(value)
    except NotJSON:
        exact = None
    if fast is not None:
        assert fast == exact
    else:  # refused: not JSON by the rule, or larger than what is left
        assert exact is None or exact[1] > limit


# ------------------------------------------------------------------ trace


@settings(max_examples=500, deadline=None)
@given(
    value=st.from_regex(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", fullmatch=True)
    | st.text(max_size=60)
)
def test_common_traceparent_fast_path_is_a_valid_traceparent(value: str) -> None:
    if is_common_traceparent(value):
        assert _traceparent_problem(value) is None
        assert string_size(value) == len(value) + 2


baggage_members = st.one_of(
    st.from_regex(
        r"[a-z][a-z0-9_]{0,6}=[A-Za-z0-9%]{0,8}(;[a-z]{1,3}(=[a-z]{0,3})?)?", fullmatch=True
    ),
    st.text(st.sampled_from('ab= ;,"\\é%\t'), max_size=10),
)


@settings(max_examples=500, deadline=None)
@given(members=st.lists(baggage_members, max_size=200), sep=st.sampled_from([",", " , ", ",\t"]))
def test_baggage_fast_path_matches_the_member_by_member_path(members: list[str], sep: str) -> None:
    def members_of(result: tuple[str, int]) -> tuple[list[str], int]:
        text, dropped = result
        return [m.strip(" \t") for m in re.split(r"[ \t]*,[ \t]*", text) if m.strip(" \t")], dropped

    value = sep.join(members)[:8192]
    assert members_of(filter_baggage(value)) == members_of(_filter_baggage_members(value))


received_values = st.recursive(
    scalars | st.sampled_from([2**53 - 1, 2**53, 1e16, 9007199254740993.0, "]]}{", "1" * 20]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children)
        | st.dictionaries(odd_text, children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=2)
    ),
    max_leaves=25,
) | st.integers(min_value=28, max_value=36).map(lambda depth: _nested(depth))


def _nested(depth: int) -> Any:
    value: Any = [0, [1]]
    for _ in range(depth - 2):
        value = [value, {"k": [0]}]
    return value


@settings(max_examples=1000, deadline=None)
@given(value=received_values, limit=st.integers(min_value=0, max_value=4000))
def test_values_checked_in_c_match_the_item_by_item_walk(value: Any, limit: int) -> None:
    """decode's C-level check of a nested value accepts exactly what the walk accepts."""

    def outcome(fn: Any) -> Any:
        try:
            return fn(value, limit)
        except NotJSON:
            return None

    fast, slow = outcome(jsonvalue.snapshot_received), outcome(snapshot_exact)
    assert fast == slow
    if fast is not None:
        assert fast[1] == _exact_size(fast[0])


@pytest.mark.parametrize(
    "value", [{"": 0}, {"": 0, "a": 1}, [0], [0, 1, 2], {"": [0]}, [[0], [1]]], ids=repr
)
def test_a_value_exactly_at_the_limit_fits(value: Any) -> None:
    size = _exact_size(value)
    assert snapshot_exact(value, size) == (value, size)
    assert jsonvalue.snapshot_received(value, size) == (value, size)
    with pytest.raises(NotJSON):
        snapshot_exact(value, size - 1)


# ------------------------------------------------------------------ trace restore


def _described(context: Context) -> dict[str, Any]:
    """A Context by value: spans by their span context (spans compare by identity)."""
    return {
        key: value.get_span_context() if isinstance(value, otel_trace.Span) else value
        for key, value in context.items()
    }


extra_trace_fields = st.sampled_from(
    [{}, {"tracestate": "vendor=opaque,other=1"}, {"baggage": "tenant=acme"}, {"x-vendor": "1"}]
)


@settings(max_examples=300, deadline=None)
@given(
    trace_id=st.integers(0, 2**128 - 1) | st.just(0),
    span_id=st.integers(0, 2**64 - 1) | st.just(0),
    flags=st.integers(0, 255),
    extra=extra_trace_fields,
)
def test_trace_fast_path_restores_what_the_propagator_would(
    trace_id: int, span_id: int, flags: int, extra: dict[str, str]
) -> None:
    """extract builds the common case itself: the same Context OTel's propagator gives
    for the same carrier (zero ids included: decode drops them, OTel ignores them)."""
    headers = {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}", **extra}

    def check() -> None:
        checked = Carrier().decode(headers).trace_headers  # extract_trace's input
        assert _described(extract_trace(checked)) == _described(propagate.extract(headers))

    contextvars.Context().run(check)


@settings(max_examples=100, deadline=None)
@given(trace_id=st.integers(1, 2**128 - 1), span_id=st.integers(1, 2**64 - 1))
def test_a_restored_trace_is_the_carried_one(trace_id: int, span_id: int) -> None:
    """Through extract: the task's current span context is the producer's, remote."""
    carrier = {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-01"}

    def check() -> None:
        expected = otel_trace.get_current_span(propagate.extract(carrier)).get_span_context()
        with extract(carrier):
            restored = otel_trace.get_current_span().get_span_context()
        assert restored == expected
        assert restored.is_remote
        assert not otel_trace.get_current_span().get_span_context().is_valid  # and gone after

    contextvars.Context().run(check)


class CountingTraceContext(TraceContextTextMapPropagator):
    """OTel's trace-context propagator, counting its extracts (a user's own subclass)."""

    calls = 0

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        CountingTraceContext.calls += 1
        return super().extract(carrier, context)


@pytest.mark.parametrize(
    "textmap",
    [
        CompositePropagator([CountingTraceContext(), W3CBaggagePropagator()]),
        CompositePropagator([W3CBaggagePropagator(), CountingTraceContext()]),
        CountingTraceContext(),
    ],
    ids=["subclass", "other-order", "alone"],
)
def test_any_other_propagator_is_called(textmap: TextMapPropagator) -> None:
    """Only OTel's exact default is built directly; a user's propagator always runs."""
    propagate.set_global_textmap(textmap)
    CountingTraceContext.calls = 0
    carrier = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with extract(carrier):
        assert (
            otel_trace.get_current_span().get_span_context().trace_id
            == 0x0AF7651916CD43DD8448EB211C80319C
        )
    assert CountingTraceContext.calls == 1
