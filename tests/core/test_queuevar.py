"""QueueVar: registration, setting, checking and snapshotting values."""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import enum
import threading
import uuid
from typing import Any

import pytest

from ctxcarry import QueueVar, inject, priority, registered_vars
from ctxcarry._queuevar import BACKING_PREFIX
from tests.core.vars import (
    Plan,
    amount,
    day,
    deadline,
    org_id,
    payload,
    plan,
    region,
    request_uuid,
    tenant_id,
)


def test_name_and_default_are_exposed() -> None:
    assert tenant_id.name == "core_tenant_id"
    assert tenant_id.default is None
    assert region.default == "eu-west"


def test_get_returns_the_default_when_unset_not_none() -> None:
    assert region.get() == "eu-west"
    assert not region.is_set()
    assert region.get("override") == "override"


def test_with_block_sets_and_restores() -> None:
    with tenant_id("acme") as value:
        assert value == "acme"
        assert tenant_id.get() == "acme"
        with tenant_id("globex"):
            assert tenant_id.get() == "globex"
        assert tenant_id.get() == "acme"
    assert tenant_id.get() is None


def test_with_block_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError), tenant_id("acme"):
        raise RuntimeError("boom")
    assert tenant_id.get() is None


def test_binding_object_can_be_reused_and_nested() -> None:
    binding = tenant_id("acme")
    with binding:
        with binding:
            assert tenant_id.get() == "acme"
        assert tenant_id.get() == "acme"
    with binding:
        assert tenant_id.get() == "acme"
    assert tenant_id.get() is None


def test_token_api_for_middleware() -> None:
    token = tenant_id.set("x")
    assert tenant_id.get() == "x"
    tenant_id.reset(token)
    assert tenant_id.get() is None
    assert not tenant_id.is_set()


def test_clear_makes_the_var_read_its_default_and_stop_travelling() -> None:
    with tenant_id("acme"):
        token = tenant_id.clear()
        assert tenant_id.get() is None
        assert "ctxcarry" not in inject()
        tenant_id.reset(token)
        assert tenant_id.get() == "acme"


def test_duplicate_name_is_refused() -> None:
    with pytest.raises(ValueError, match="core_tenant_id"):
        QueueVar("core_tenant_id", default=None)


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a" * 65, "new\nline", "é", 42])
def test_invalid_names_are_refused(name: Any) -> None:
    with pytest.raises(ValueError, match="invalid QueueVar name"):
        QueueVar(name, default=None)


def test_backing_contextvar_is_never_named_like_a_structlog_key() -> None:
    for var in registered_vars():
        assert var.context_var.name.startswith(BACKING_PREFIX)
        assert not var.context_var.name.startswith("structlog_")


def test_priority_is_a_builtin_queuevar_with_a_default() -> None:
    assert priority.name == "priority"
    assert priority.default is None
    assert priority.get() is None
    assert priority in registered_vars()
    with priority(7):
        assert priority.get() == 7


@pytest.mark.parametrize("bad", [-1, 256, True, "5", 1.5])
def test_priority_refuses_values_outside_0_255(bad: Any) -> None:
    with pytest.raises(TypeError, match="priority"):
        priority.set(bad)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({1, 2}, "set"),
        ((1, 2), "tuple"),  # would come back as a list
        (Color.RED, "Color"),  # would come back as an int
        ({1: "a"}, "dict key"),  # would come back with a str key
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (object(), "object"),
        (b"bytes", "bytes"),
        (_nested(40), "nested"),
    ],
)
def test_values_that_cannot_travel_exactly_are_refused_when_set(value: Any, why: str) -> None:
    with pytest.raises(TypeError) as info:
        payload.set(value)
    assert "core_payload" in str(info.value)
    assert why in str(info.value)
    with pytest.raises(TypeError, match="core_payload"):
        payload(value)
    assert not payload.is_set()


def test_refused_value_leaves_the_previous_value_in_place() -> None:
    with payload({"a": 1}):
        with pytest.raises(TypeError):
            payload.set({"bad": {1, 2}})
        assert payload.get() == {"a": 1}


def test_value_is_a_snapshot_taken_when_set() -> None:
    data = {"ids": [1, 2]}
    with payload(data):
        data["ids"].append(3)
        data["new"] = True
        sent = inject()["ctxcarry"]["vars"]["core_payload"]
    assert sent == {"ids": [1, 2]}


def test_get_returns_the_object_that_was_set() -> None:
    data = {"a": 1}
    with payload(data):
        assert payload.get() is data


def test_mutating_a_carrier_after_inject_does_not_change_the_next_one() -> None:
    with payload({"ids": [1]}):
        first = inject()
        first["ctxcarry"]["vars"]["core_payload"]["ids"].append(99)
        second = inject()
    assert second["ctxcarry"]["vars"]["core_payload"] == {"ids": [1]}


def test_typed_codec_checks_the_type() -> None:
    with org_id(42):
        assert org_id.get() == 42
    for bad in ("42", True, 4.2):
        with pytest.raises(TypeError, match="core_org_id"):
            org_id.set(bad)  # type: ignore[arg-type]


def test_codecs_encode_to_strings_and_refuse_wrong_types() -> None:
    cases: list[tuple[QueueVar[Any], Any, Any]] = [
        (request_uuid, uuid.UUID(int=7), str(uuid.UUID(int=7))),
        (
            deadline,
            dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            "2026-01-02T03:04:05+00:00",
        ),
        (day, dt.date(2026, 1, 2), "2026-01-02"),
        (amount, decimal.Decimal("10.50"), "10.50"),
        (plan, Plan.PRO, "pro"),
    ]
    for var, value, wire in cases:
        with var(value):
            assert inject()["ctxcarry"]["vars"][var.name] == wire
        with pytest.raises(TypeError, match=var.name):
            var.set("not the right type")
    with pytest.raises(TypeError, match="core_amount"):
        amount.set(decimal.Decimal("NaN"))


def test_none_is_always_allowed_even_with_a_codec() -> None:
    with request_uuid(None):
        assert request_uuid.is_set()
        assert inject()["ctxcarry"]["vars"]["core_request_uuid"] is None


def test_concurrent_registration_is_safe_and_refuses_exactly_one_duplicate() -> None:
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []
    created: list[QueueVar[Any]] = []

    def register(i: int) -> None:
        barrier.wait()
        try:
            created.append(QueueVar(f"core_race_{i % 8}", default=None))
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 8
    assert len(errors) == 8
    names = [v.name for v in registered_vars()]
    assert len(names) == len(set(names))


def test_registering_while_extracting_never_breaks_restore() -> None:
    from ctxcarry import extract

    stop = threading.Event()
    failures: list[BaseException] = []

    def extract_loop() -> None:
        carrier = {"ctxcarry": {"v": 1, "vars": {"core_tenant_id": "t"}}}
        while not stop.is_set():
            try:
                with extract(carrier):
                    assert tenant_id.get() == "t"
            except BaseException as exc:  # pragma: no cover - the failure we look for
                failures.append(exc)
                return

    worker = threading.Thread(target=contextvars.copy_context().run, args=(extract_loop,))
    worker.start()
    try:
        for i in range(200):
            QueueVar(f"core_churn_{i}", default=None)
    finally:
        stop.set()
        worker.join()
    assert failures == []
