"""RequestScope: clean baseline at entry, exact restore at exit, outer bindings kept."""

from __future__ import annotations

import contextvars
import logging

import pytest
import structlog
from structlog.contextvars import bind_contextvars, get_contextvars

from ctxcarry import inject, priority
from ctxcarry._request_scope import (
    RequestScope,
    bind_request_values,
    request_keys,
)
from tests.web.support import web_outer, web_tenant


def test_request_starts_clean_and_everything_is_restored_exactly() -> None:
    bind_contextvars(service="api")  # bound outside any request: must survive
    first = RequestScope()
    first.enter("req-1")
    bind_request_values({"tenant": "acme", web_tenant: "acme"})
    bind_contextvars(view_key="leaky")
    first.exit()
    assert get_contextvars() == {"service": "api"}
    assert web_tenant.get() is None
    assert {"request_id", "tenant", "view_key"} <= request_keys()

    # A context that still holds a previous request's values (gh-140947).
    bind_contextvars(tenant="stale", view_key="stale", request_id="old")
    token = web_tenant.set("stale")
    second = RequestScope()
    second.enter("req-2")
    assert get_contextvars() == {"service": "api", "request_id": "req-2"}
    assert web_tenant.get() is None
    second.exit()
    assert get_contextvars() == {
        "service": "api",
        "tenant": "stale",
        "view_key": "stale",
        "request_id": "old",
    }
    assert web_tenant.get() == "stale"
    web_tenant.reset(token)


def test_every_queuevar_starts_from_its_default() -> None:
    with web_outer("outer"), priority(7):
        scope = RequestScope()
        scope.enter("req")
        assert web_outer.get() is None
        assert priority.get() is None
        assert inject()["ctxcarry"]["vars"] == {}
        scope.exit()
        assert web_outer.get() == "outer"
        assert priority.get() == 7


def test_exit_restores_a_key_the_view_rebound() -> None:
    bind_contextvars(region="eu")
    scope = RequestScope()
    scope.enter("req")
    bind_contextvars(region="us")
    assert get_contextvars()["region"] == "us"
    scope.exit()
    assert get_contextvars() == {"region": "eu"}


def test_inject_inside_the_scope_carries_the_request() -> None:
    scope = RequestScope()
    scope.enter("req-7")
    bind_request_values({"user_id": 5, web_tenant: "globex"})
    carrier = inject()
    scope.exit()
    assert carrier["structlog_context"] == {"request_id": "req-7", "user_id": 5}
    assert carrier["ctxcarry"]["vars"] == {"web_tenant": "globex"}


def test_bad_bindings_are_dropped_with_one_warning_naming_keys_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = object()
    scope = RequestScope()
    scope.enter("req")
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        bind_request_values(
            {
                "ok": 1,
                "bad key\nwith newline": "x",
                web_tenant: secret,  # not JSON: the QueueVar refuses it
                "ellipsis": ...,
            }
        )
        bind_request_values(["not", "a", "mapping"])
    assert get_contextvars() == {"request_id": "req", "ok": 1}
    assert web_tenant.get() is None
    scope.exit()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "web_tenant" in messages[0]
    assert "\n" not in messages[0]
    assert repr(secret) not in messages[0]
    assert "not a mapping" in messages[1]


def test_unserialisable_structlog_value_is_bound_and_inject_still_works() -> None:
    scope = RequestScope()
    scope.enter("req")
    bind_request_values({"opaque": object()})
    carrier = inject()
    scope.exit()
    assert carrier["structlog_context"]["request_id"] == "req"


def test_a_scope_cannot_be_entered_twice() -> None:
    scope = RequestScope()
    scope.enter("req")
    with pytest.raises(RuntimeError):
        scope.enter("again")
    scope.exit()
    scope.exit()  # a second exit is a no-op
    assert get_contextvars() == {}


def test_structlog_logger_sees_the_request_keys() -> None:
    events: list[dict[str, object]] = []

    def keep(logger: object, method: str, event: dict[str, object]) -> dict[str, object]:
        events.append(event)
        raise structlog.DropEvent

    previous = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, keep])
    try:
        scope = RequestScope()
        scope.enter("req-log")
        structlog.get_logger().info("inside")
        scope.exit()
        structlog.get_logger().info("outside")
    finally:
        structlog.configure(**previous)
    assert events[0]["request_id"] == "req-log"
    assert "request_id" not in events[1]


def test_a_hook_value_of_none_leaves_the_key_out_of_every_line() -> None:
    def scenario() -> dict[str, object]:
        scope = RequestScope()
        scope.enter("r-1")
        scope.bind({"tenant": None, "user_id": 7})
        seen = structlog.contextvars.get_contextvars()
        scope.exit()
        return seen

    assert contextvars.Context().run(scenario) == {"request_id": "r-1", "user_id": 7}
