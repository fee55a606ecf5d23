"""inject(): what it writes, how it converts, and what it drops."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import logging
import uuid
from typing import Any

import pytest
import structlog
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context

from ctxcarry import Carrier, CarrierError, inject, priority
from ctxcarry._wire import ENVELOPE_KEY, FORMAT_VERSION, STRUCTLOG_KEY
from tests.core.vars import org_id, payload, tenant_id

bind = structlog.contextvars.bind_contextvars


def test_nothing_bound_writes_nothing() -> None:
    assert inject() == {}


def test_wire_shape_with_everything_bound(tracer: trace.Tracer) -> None:
    bind(request_id="r-1", user_id=7)
    with tenant_id("acme"), priority(3), tracer.start_as_current_span("enqueue"):
        carrier = inject()
        expected_w3c: dict[str, str] = {}
        propagate.inject(expected_w3c)
    assert carrier[STRUCTLOG_KEY] == {"request_id": "r-1", "user_id": 7}
    assert carrier[ENVELOPE_KEY] == {
        "v": FORMAT_VERSION,
        "vars": {"core_tenant_id": "acme", "priority": 3},
        # Where the var is defined, for a worker that has not imported it (not for priority,
        # ctxcarry's own, registered everywhere).
        "modules": {"core_tenant_id": "tests.core.vars"},
    }
    assert carrier["traceparent"] == expected_w3c["traceparent"]
    assert json.loads(json.dumps(carrier, allow_nan=False)) == carrier


def test_w3c_keys_are_exactly_what_opentelemetry_writes(tracer: trace.Tracer) -> None:
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with tracer.start_as_current_span("enqueue") as span:
            carrier = inject()
            by_otel: dict[str, str] = {}
            propagate.inject(by_otel)
    finally:
        otel_context.detach(token)
    assert {k: carrier[k] for k in by_otel} == by_otel
    assert set(by_otel) <= {"traceparent", "tracestate", "baggage"}
    found = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    assert found.trace_id == span.get_span_context().trace_id
    assert found.span_id == span.get_span_context().span_id
    assert baggage.get_baggage("tenant", propagate.extract(carrier)) == "acme"


def test_only_trace_context_keeps_the_flagsmith_shape(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("enqueue"):
        carrier = inject()
    assert set(carrier) == {"traceparent"}


def test_inject_fills_an_existing_dict_and_returns_it() -> None:
    existing: dict[str, Any] = {"keep": "me"}
    with tenant_id("acme"):
        result = inject(existing)
    assert result is existing
    assert existing["keep"] == "me"
    assert existing[ENVELOPE_KEY]["vars"] == {"core_tenant_id": "acme"}


def test_inject_removes_its_own_stale_keys_when_nothing_is_bound() -> None:
    stale = {"structlog_context": {"old": 1}, "ctxcarry": {"v": 1, "vars": {"x": 1}}, "k": 1}
    assert inject(stale) == {"k": 1}


class Status(enum.Enum):
    ACTIVE = "active"
    LEVEL = 3


class Level(enum.IntEnum):
    HIGH = 5


def test_well_known_types_become_their_string_forms() -> None:
    when = dt.datetime(2026, 11, 21, 3, 30, tzinfo=dt.timezone.utc)
    bind(
        uid=uuid.UUID(int=1),
        when=when,
        day=dt.date(2026, 11, 21),
        price=decimal.Decimal("9.90"),
        status=Status.ACTIVE,
        level_enum=Status.LEVEL,
        int_enum=Level.HIGH,
        pair=(1, 2),
        nested={"ids": (uuid.UUID(int=2),)},
    )
    log = inject()[STRUCTLOG_KEY]
    assert log == {
        "uid": "00000000-0000-0000-0000-000000000001",
        "when": "2026-11-21T03:30:00+00:00",
        "day": "2026-11-21",
        "price": "9.90",
        "status": "active",
        "level_enum": "LEVEL",
        "int_enum": "HIGH",
        "pair": [1, 2],
        "nested": {"ids": ["00000000-0000-0000-0000-000000000002"]},
    }
    assert all(type(v) is str for k, v in log.items() if k not in ("pair", "nested"))


def test_json_native_values_are_carried_exactly() -> None:
    value = {"a": [1, 2.5, True, None, "x", {"b": []}], "big": 2**53 - 1, "neg": -0.0}
    bind(value=value)
    assert inject()[STRUCTLOG_KEY]["value"] == value


def test_unserialisable_values_are_dropped_with_one_warning_naming_each_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bind(ok="fine", bad_set={1}, bad_obj=object(), nan=float("nan"), inf=[float("inf")])
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        carrier = inject()
    assert carrier[STRUCTLOG_KEY] == {"ok": "fine"}
    warnings = [r for r in caplog.records if r.name == "ctxcarry"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    for key in ("bad_set", "bad_obj", "nan", "inf"):
        assert repr(key) in message
    text = json.dumps(carrier)
    assert "NaN" not in text
    assert "Infinity" not in text


def test_strict_mode_raises_instead_and_writes_nothing() -> None:
    bind(bad_set={1})
    target: dict[str, Any] = {}
    with pytest.raises(CarrierError, match="bad_set") as info:
        Carrier(strict=True).inject(target)
    assert target == {}
    assert info.value.problems


def test_invalid_structlog_key_names_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    structlog.contextvars.bind_contextvars(**{"has space": 1, "fine": 2})
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        carrier = inject()
    assert carrier[STRUCTLOG_KEY] == {"fine": 2}
    assert "'has space'" in caplog.text


def test_unbound_structlog_keys_are_not_carried() -> None:
    bind(a=1, b=2)
    structlog.contextvars.unbind_contextvars("a")
    assert inject()[STRUCTLOG_KEY] == {"b": 2}


def test_default_budget_is_32_kib_and_the_whole_carrier_stays_inside() -> None:
    assert Carrier().max_bytes == 32 * 1024
    bind(**{f"k{i}": "x" * 1000 for i in range(40)})
    carrier = inject()
    assert len(json.dumps(carrier, separators=(",", ":"))) <= 32 * 1024
    assert 25 <= len(carrier[STRUCTLOG_KEY]) < 40


def test_over_budget_drops_the_largest_items_not_the_whole_context(
    caplog: pytest.LogCaptureFixture, tracer: trace.Tracer
) -> None:
    small = Carrier(max_bytes=1024)
    bind(request_id="r-1", huge="y" * 5000)
    with tenant_id("acme"), tracer.start_as_current_span("s"), caplog.at_level(logging.WARNING):
        carrier = small.inject()
    assert carrier[STRUCTLOG_KEY] == {"request_id": "r-1"}
    assert carrier[ENVELOPE_KEY]["vars"] == {"core_tenant_id": "acme"}
    assert "traceparent" in carrier
    assert len(json.dumps(carrier, separators=(",", ":"))) <= 1024
    assert "'huge'" in caplog.text
    assert "max_bytes=1024" in caplog.text


def test_budget_is_exact_at_the_boundary() -> None:
    for size in range(300, 420):
        carrier_cfg = Carrier(max_bytes=size)
        bind(a="x" * 100, b="y" * 100, c="z" * 100)
        carrier = carrier_cfg.inject()
        assert len(json.dumps(carrier, separators=(",", ":"))) <= size


def test_queuevars_win_over_structlog_keys_when_space_is_short() -> None:
    bind(note="n" * 600)
    with payload({"blob": "p" * 600}):
        carrier = Carrier(max_bytes=900).inject()
    assert "core_payload" in carrier[ENVELOPE_KEY]["vars"]
    assert STRUCTLOG_KEY not in carrier


def test_max_keys_caps_what_is_sent(caplog: pytest.LogCaptureFixture) -> None:
    bind(**{f"key{i}": i for i in range(10)})
    with tenant_id("acme"), caplog.at_level(logging.WARNING):
        carrier = Carrier(max_keys=4).inject()
    assert carrier[ENVELOPE_KEY]["vars"] == {"core_tenant_id": "acme"}
    assert len(carrier[STRUCTLOG_KEY]) == 3
    assert "max_keys=4" in caplog.text


def test_a_broken_propagator_never_breaks_an_enqueue(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(propagate.textmap.TextMapPropagator):  # type: ignore[misc]
        def inject(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("propagator bug")

        def extract(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("propagator bug")

        @property
        def fields(self) -> set[str]:
            return {"traceparent"}

    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(Broken())
    try:
        with tenant_id("acme"), caplog.at_level(logging.WARNING):
            carrier = inject()
    finally:
        propagate.set_global_textmap(previous)
    assert carrier[ENVELOPE_KEY]["vars"] == {"core_tenant_id": "acme"}
    assert "propagator failed" in caplog.text


def test_what_can_be_switched_off() -> None:
    bind(a=1)
    with tenant_id("acme"), org_id(5):
        assert STRUCTLOG_KEY not in Carrier(carry_structlog=False).inject()
        assert Carrier(carry_queuevars=False).inject()[ENVELOPE_KEY]["vars"] == {}


def test_someone_elses_contextvar_named_like_ours_is_ignored() -> None:
    import contextvars

    impostor: contextvars.ContextVar[Any] = contextvars.ContextVar("ctxcarry:core_tenant_id")
    token = impostor.set("not a slot")
    try:
        assert inject() == {}
    finally:
        impostor.reset(token)
