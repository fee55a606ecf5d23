"""The adapter kit: what every adapter relies on, checked without any queue."""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import pytest
import structlog

from ctxcarry import Carrier, extract, get_default_carrier, inject, set_default_carrier
from ctxcarry.kit import (
    TASK_IDENTITY_KEYS,
    Installation,
    ScopeStore,
    bind_task_identity,
    checked_trace_headers,
    enter_task_scope,
    guard_scope,
    never_raises,
)
from tests.core.vars import tenant_id

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_task_identity_lasts_the_task_and_is_never_carried_onward() -> None:
    def scenario() -> None:
        scope = extract({"structlog_context": {"request_id": "r-1"}})
        scope.enter()
        bind_task_identity(task_id="t-1", task_name="send_mail", parent_task_id=None)
        assert structlog.contextvars.get_contextvars() == {
            "request_id": "r-1",
            "task_id": "t-1",
            "task_name": "send_mail",
        }
        child = inject()
        assert child["structlog_context"] == {"request_id": "r-1"}
        scope.exit()
        assert structlog.contextvars.get_contextvars() == {}

    contextvars.Context().run(scenario)
    assert set(TASK_IDENTITY_KEYS) == {"task_id", "task_name", "parent_task_id"}


def test_installation_follows_the_default_until_given_a_carrier() -> None:
    installation = Installation()
    chosen = Carrier(carry_structlog=False)
    previous = set_default_carrier(Carrier(max_keys=7))
    try:
        assert installation.carrier is get_default_carrier()
        installation.configure(chosen)
        installation.configure(None)  # a later plain install() changes nothing
        assert installation.carrier is chosen
        assert installation.carrier_without_trace.carry_trace is False
        assert installation.carrier_without_trace is installation.carrier_without_trace
    finally:
        set_default_carrier(previous)
    with pytest.raises(TypeError):
        installation.configure("not a carrier")  # type: ignore[arg-type]


def test_scope_store_keeps_scopes_on_objects_and_by_key() -> None:
    class Request:
        pass

    store, request = ScopeStore(), Request()
    on_object, by_key = guard_scope(), guard_scope()
    store.put(request, on_object)
    store.put("job-1", by_key)
    assert store.pop(request) is on_object
    assert store.pop(request) is None
    assert store.pop("job-1") is by_key
    assert store.pop("job-1") is None


def test_guard_scope_restores_nothing_and_undoes_the_block() -> None:
    def scenario() -> None:
        structlog.contextvars.bind_contextvars(caller="kept")
        with tenant_id("acme"):
            scope = guard_scope()
            scope.enter()
            assert (tenant_id.get(), structlog.contextvars.get_contextvars()) == (
                "acme",
                {"caller": "kept"},
            )
            structlog.contextvars.bind_contextvars(task="bound")
            tenant_id.set("changed by the task")
            scope.exit()
            assert (tenant_id.get(), structlog.contextvars.get_contextvars()) == (
                "acme",
                {"caller": "kept"},
            )

    contextvars.Context().run(scenario)


def test_never_raises_logs_and_returns_none(caplog: pytest.LogCaptureFixture) -> None:
    @never_raises("test hook")
    def hook(value: Any) -> Any:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="ctxcarry"):
        assert hook(1) is None
    [record] = [r for r in caplog.records if r.name == "ctxcarry"]
    assert "test hook" in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"traceparent": PARENT, "other": 1}, {"traceparent": PARENT}),
        ({"traceparent": 42, "baggage": 5}, {}),
        ([1, 2], {}),
        ("junk", {}),
        (None, {}),
    ],
)
def test_checked_trace_headers_keeps_only_safe_fields(raw: object, expected: object) -> None:
    assert checked_trace_headers(raw) == expected


def test_a_refused_carrier_still_gets_a_scope_that_undoes_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A strict Carrier refuses; the task runs anyway, and what it binds is undone."""

    def scenario() -> None:
        structlog.contextvars.bind_contextvars(worker="w-1")
        with caplog.at_level(logging.WARNING, logger="ctxcarry"):
            scope = enter_task_scope(
                Carrier(strict=True),
                {"structlog_context": {"bad key!": 1}},
                restore_trace="never",
                task="t-1",
            )
        structlog.contextvars.bind_contextvars(task_bound="x")
        scope.exit()
        assert structlog.contextvars.get_contextvars() == {"worker": "w-1"}

    contextvars.Context().run(scenario)
    [record] = [r for r in caplog.records if r.name == "ctxcarry"]
    assert "task 't-1' runs without its carrier" in record.getMessage()
