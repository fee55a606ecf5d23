"""What may travel: I-JSON plus no U+0000, on inject, at QueueVar set time and at decode.

Regressions for issue 10 items 1, 2, 3, 6, 10, 12 and 13 at the core level (the
end-to-end versions run on RabbitMQ and PostgreSQL in tests/celery and
tests/task_processor).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import propagate
from opentelemetry.propagators.textmap import TextMapPropagator

from ctxcarry import Carrier, CarrierError, QueueVar, extract, inject
from ctxcarry._jsonvalue import MAX_SAFE_INTEGER
from ctxcarry._wire import ENVELOPE_KEY, STRUCTLOG_KEY
from tests.core.vars import payload, tenant_id

bind = structlog.contextvars.bind_contextvars

BAD_STRINGS = ["a\x00b", "\ud800", os.fsdecode(b"\xff"), "ok\udfff"]
HUGE_INTS = [2**53, -(2**53), 2**63, uuid.UUID(int=2**127 + 5).int, 10**30]


def _ints_and_strings(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _ints_and_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ints_and_strings(item)
    else:
        yield value


def assert_i_json(carrier: dict[str, Any]) -> None:
    """Every string valid Unicode without NUL, every int an exact double."""
    for item in _ints_and_strings(carrier):
        if type(item) is int:
            assert -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER
        if type(item) is str:
            item.encode("utf-8")  # raises on a lone surrogate
            assert "\x00" not in item


# ------------------------------------------------------------- inject, structlog


@pytest.mark.parametrize("number", HUGE_INTS)
def test_a_huge_structlog_int_travels_as_its_decimal_string(
    number: int, caplog: pytest.LogCaptureFixture
) -> None:
    bind(request_uuid=number, nested={"ids": [number, 1]})
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        carrier = inject()
    assert carrier[STRUCTLOG_KEY] == {
        "request_uuid": str(number),
        "nested": {"ids": [str(number), 1]},
    }
    assert_i_json(carrier)
    (record,) = caplog.records
    assert "'request_uuid'" in record.getMessage()
    assert "'nested'" in record.getMessage()
    assert str(number) not in record.getMessage()


def test_the_largest_exact_integers_travel_as_numbers() -> None:
    bind(top=MAX_SAFE_INTEGER, bottom=-MAX_SAFE_INTEGER)
    assert inject()[STRUCTLOG_KEY] == {"top": MAX_SAFE_INTEGER, "bottom": -MAX_SAFE_INTEGER}


@pytest.mark.parametrize("text", BAD_STRINGS)
def test_nul_and_lone_surrogates_in_log_values_become_replacement_characters(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    bind(path=text, deep={text: [text]})
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        carrier = inject()
    fixed = "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)
    assert carrier[STRUCTLOG_KEY] == {"path": fixed, "deep": {fixed: [fixed]}}
    assert_i_json(carrier)
    message = caplog.records[0].getMessage()
    assert "'path'" in message
    assert "'deep'" in message


def test_strict_inject_refuses_what_it_would_convert() -> None:
    bind(path="\ud800")
    with pytest.raises(CarrierError, match="'path'"):
        Carrier(strict=True).inject()


# ------------------------------------------------------------- QueueVars


@pytest.mark.parametrize("value", [*HUGE_INTS, *BAD_STRINGS, {"k\x00": 1}, {"\ud800": 1}])
def test_a_queuevar_refuses_what_cannot_travel_at_set_time(value: Any) -> None:
    with pytest.raises(TypeError, match="core_payload"):
        payload.set(value)
    with pytest.raises(TypeError, match="core_payload"):
        payload(value)
    with pytest.raises(TypeError, match="core_payload"):
        payload.set([1, {"x": value}])


class _HugeCodec:
    def encode(self, value: int) -> Any:
        return value * 10**20

    def decode(self, data: Any) -> int:
        return int(data)


_huge: QueueVar[int | None] = QueueVar("wire_huge_codec", default=None, codec=_HugeCodec())


def test_a_codecs_output_is_checked_by_the_same_rule() -> None:
    with pytest.raises(TypeError, match="wire_huge_codec"):
        _huge.set(10**5)


# ------------------------------------------------------------- decode


HOSTILE_VALUES = [2**53, -(2**63), 10**30, "\x00", "a\ud800", ["\udcff"], {"\x00": 1}]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_decode_refuses_what_inject_would_never_write(value: Any) -> None:
    carrier = {
        STRUCTLOG_KEY: {"bad": value, "good": "g"},
        ENVELOPE_KEY: {"v": 1, "vars": {"core_payload": value, "core_tenant_id": "t"}},
    }
    for candidate in (carrier, json.loads(json.dumps(carrier))):
        decoded = Carrier().decode(candidate)
        assert decoded.log_context == {"good": "g"}
        assert decoded.as_dict() == {"core_tenant_id": "t"}
        assert any("'bad'" in line for line in decoded.dropped)
        assert any("'core_payload'" in line for line in decoded.dropped)


def test_a_carried_lone_surrogate_cannot_break_the_tasks_logging() -> None:
    """Item 6: ConsoleRenderer on a UTF-8 stream raised UnicodeEncodeError."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[structlog.contextvars.merge_contextvars, structlog.dev.ConsoleRenderer()],
    )
    with extract({STRUCTLOG_KEY: {"path": os.fsdecode(b"\xff"), "request_id": "r"}}):
        logger.info("task started")
    stream.flush()
    assert "request_id" in stream.buffer.getvalue().decode()  # type: ignore[attr-defined]


# ------------------------------------------------------------- item 3


class _Exploding(Exception):
    pass


def _boom(*_: Any) -> Any:
    raise _Exploding("no")


class _BadUUID(uuid.UUID):
    __str__ = _boom


class _BadDateTime(dt.datetime):
    isoformat = _boom


class _BadDecimal(decimal.Decimal):
    __str__ = _boom


class _BadInt(int):
    __int__ = _boom
    __index__ = _boom
    __repr__ = _boom


class _BadFloat(float):
    __float__ = _boom
    __repr__ = _boom


class _BadClass:
    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise _Exploding("class")


class _LazyFails:
    """What ``django.utils.functional.SimpleLazyObject`` does when its setup raises."""

    def __getattr__(self, name: str) -> Any:
        raise _Exploding("database hiccup")

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise _Exploding("database hiccup")


MISBEHAVING = {
    "uuid": lambda: _BadUUID(int=1),
    "datetime": lambda: _BadDateTime(2024, 1, 1),
    "decimal": lambda: _BadDecimal("1.5"),
    "int": lambda: _BadInt(7),
    "float": lambda: _BadFloat(1.5),
    "class": _BadClass,
    "lazy": _LazyFails,
    "nested-list": lambda: [1, _BadClass()],
    "nested-dict": lambda: {"inner": _LazyFails()},
}


@pytest.mark.parametrize("make", MISBEHAVING.values(), ids=MISBEHAVING.keys())
def test_a_misbehaving_value_is_isolated_and_never_breaks_inject(make: Any) -> None:
    """Whatever the object does, only its own key is affected; strict raises CarrierError."""
    value = make()
    bind(request_id="r-1", odd=value)
    with tenant_id("acme"):
        carrier = inject()
        strict: dict[str, Any] | str
        try:
            strict = Carrier(strict=True).inject()
        except CarrierError as exc:
            strict = str(exc)
    assert carrier[STRUCTLOG_KEY]["request_id"] == "r-1"
    assert carrier[ENVELOPE_KEY]["vars"] == {"core_tenant_id": "acme"}
    assert_i_json(carrier)
    if "odd" in carrier[STRUCTLOG_KEY]:  # carried: read through the base type, not the override
        assert strict == carrier
    else:
        assert isinstance(strict, str)
        assert "'odd'" in strict


def test_django_simple_lazy_object_whose_setup_raises() -> None:
    from django.utils.functional import SimpleLazyObject

    bind(user=SimpleLazyObject(_boom), request_id="r-2")
    carrier = inject()
    assert carrier[STRUCTLOG_KEY] == {"request_id": "r-2"}


# ------------------------------------------------------------- item 10


def test_a_huge_format_version_still_restores_trace_and_log_and_logs_no_digits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    for version in (10**5000, 10**4000):
        carrier = {
            "traceparent": tp,
            STRUCTLOG_KEY: {"request_id": "r"},
            ENVELOPE_KEY: {"v": version, "vars": {"core_tenant_id": "t"}},
        }
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ctxcarry"), extract(carrier) as ctx:
            assert ctx.log_context == {"request_id": "r"}
            assert ctx.trace_headers == {"traceparent": tp}
            assert dict(ctx) == {}
        assert len(caplog.records[0].getMessage()) < 300


# ------------------------------------------------------------- item 12


class _Impostor(str):
    """Equal to and hashing like a valid name, but its text is something else."""

    def __new__(cls, shown: str, claimed: str) -> _Impostor:
        self = super().__new__(cls, shown)
        self.claimed = claimed  # type: ignore[attr-defined]
        return self

    def __hash__(self) -> int:
        return hash(self.claimed)  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        return other == self.claimed  # type: ignore[attr-defined]


def test_a_str_subclass_key_never_passes_for_a_known_name() -> None:
    bind(request_id="r")
    inject()  # "request_id" is now a cached valid name
    impostor = _Impostor("x\n{" + "y" * 228, "request_id")
    for section in ({impostor: "v"}, {impostor: "v", "other": object()}):
        decoded = Carrier().decode({STRUCTLOG_KEY: section})
        assert all(type(key) is str and "\n" not in key for key in decoded.log_context)
        assert decoded.log_context == {}


# ------------------------------------------------------------- item 13


class _FieldsPropagator(TextMapPropagator):
    """A propagator writing fixed fields (non-ASCII, quotes, empty)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self._values = fields

    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        carrier.update(self._values)

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        from opentelemetry.context import get_current

        return context or get_current()

    @property
    def fields(self) -> set[str]:
        return set(self._values)


@pytest.fixture
def use_propagator() -> Iterator[Any]:
    previous = propagate.get_global_textmap()

    def use(fields: dict[str, str]) -> None:
        propagate.set_global_textmap(_FieldsPropagator(fields))

    yield use
    propagate.set_global_textmap(previous)


def test_trace_fields_are_checked_and_bounded_like_the_slow_path(use_propagator: Any) -> None:
    use_propagator({"x-vendor": "\u00e9" * 1500})
    carrier = Carrier(max_bytes=4096).inject()
    assert "x-vendor" not in carrier
    assert len(json.dumps(carrier, separators=(",", ":"))) <= 4096


def test_empty_and_quoted_trace_values_stay_within_budget(use_propagator: Any) -> None:
    use_propagator({f"f{i}": "" for i in range(40)} | {"q": '"' * 100})
    bind(filler="x" * 200)
    for max_bytes in range(256, 700, 7):
        carrier = Carrier(max_bytes=max_bytes).inject()
        assert len(json.dumps(carrier, separators=(",", ":"))) <= max_bytes


def test_floats_beyond_the_exact_range_follow_the_integer_rule() -> None:
    """jsonb reads ``7.205759403792359e+16`` back as the integer 72057594037923590."""
    bind(ratio=7.205759403792359e16, tiny=1e-300, nested=[1e300])
    assert inject()[STRUCTLOG_KEY] == {
        "ratio": "7.205759403792359e+16",
        "tiny": 1e-300,
        "nested": ["1e+300"],
    }
    with pytest.raises(TypeError, match="core_payload"):
        payload.set([float(2**53)])
    decoded = Carrier().decode({STRUCTLOG_KEY: {"big": 1e300, "ok": 0.5}})
    assert decoded.log_context == {"ok": 0.5}
