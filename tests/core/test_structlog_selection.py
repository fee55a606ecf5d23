"""Choosing which structlog keys travel: ``structlog_keys`` and ``structlog_exclude``.

Both apply where a carrier is written and where it is read; a key left out is
configuration, never a warning or an entry in ``dropped``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxcarry import Carrier, QueueContext, extract, inject
from ctxcarry._wire import STRUCTLOG_KEY
from ctxcarry.inspection import inspect_carrier
from tests.core.test_properties import KEY_NAMES, in_fresh_context, json_values
from tests.core.vars import tenant_id

bind = structlog.contextvars.bind_contextvars
get_bound = structlog.contextvars.get_contextvars

WEB_ONLY = Carrier(structlog_exclude={"side"}, strict=True)


def _carried_log(carrier: dict[str, Any]) -> dict[str, Any]:
    return dict(carrier.get(STRUCTLOG_KEY, {}))


@pytest.fixture
def no_warnings(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.WARNING, logger="ctxcarry")
    yield
    assert [r.getMessage() for r in caplog.records if r.name.startswith("ctxcarry")] == []


# ---------------------------------------------------------------- inject


def test_an_excluded_key_is_not_packed(no_warnings: None) -> None:
    bind(side="web", request_id="r-1")
    carrier = WEB_ONLY.inject()
    assert _carried_log(carrier) == {"request_id": "r-1"}
    assert "side" not in json.dumps(carrier)


def test_only_allowed_keys_are_packed(no_warnings: None) -> None:
    bind(side="web", request_id="r-1", user_id=7)
    carrier = Carrier(structlog_keys=["request_id", "user_id"], strict=True).inject()
    assert _carried_log(carrier) == {"request_id": "r-1", "user_id": 7}


def test_the_denylist_wins_over_the_allowlist(no_warnings: None) -> None:
    bind(side="web", request_id="r-1", user_id=7)
    both = Carrier(structlog_keys={"request_id", "side"}, structlog_exclude={"side"}, strict=True)
    assert _carried_log(both.inject()) == {"request_id": "r-1"}


def test_an_empty_allowlist_carries_no_structlog_key_and_the_rest_still_travels() -> None:
    bind(request_id="r-1")
    assert Carrier(structlog_keys=()).inject() == {}
    with tenant_id("acme"):
        carrier = Carrier(structlog_keys=()).inject()
    assert STRUCTLOG_KEY not in carrier
    assert carrier["ctxcarry"]["vars"] == {"core_tenant_id": "acme"}


def test_a_left_out_key_with_an_unusable_value_is_not_a_problem(no_warnings: None) -> None:
    bind(side=float("nan"), request_id="r-1")  # NaN cannot travel: a warning if carried
    assert _carried_log(WEB_ONLY.inject()) == {"request_id": "r-1"}


def test_task_identity_keys_never_travel_even_when_allowed() -> None:
    bind(task_id="t-1", request_id="r-1")
    allowed = Carrier(structlog_keys={"task_id", "request_id"})
    assert _carried_log(allowed.inject()) == {"request_id": "r-1"}


# ---------------------------------------------------------------- decode and extract


def _from_an_unfiltered_producer(**log: Any) -> dict[str, Any]:
    """A carrier as a producer without any list (or an older version) writes it."""
    return in_fresh_context(lambda: (bind(**log), inject())[1])


def test_decode_leaves_out_an_excluded_key_without_a_problem() -> None:
    carrier = _from_an_unfiltered_producer(side="web", request_id="r-1")
    assert carrier[STRUCTLOG_KEY] == {"side": "web", "request_id": "r-1"}
    decoded = WEB_ONLY.decode(carrier)
    assert decoded.log_context == {"request_id": "r-1"}
    assert decoded.dropped == ()


def test_decode_keeps_only_allowed_keys() -> None:
    carrier = _from_an_unfiltered_producer(side="web", request_id="r-1", user_id=7)
    decoded = Carrier(structlog_keys={"user_id"}, strict=True).decode(carrier)
    assert decoded.log_context == {"user_id": 7}
    assert decoded.dropped == ()


def test_decode_leaves_out_unusable_keys_the_lists_exclude_without_a_problem() -> None:
    carrier = {STRUCTLOG_KEY: {"side": {"nested": [1, 2.5]}, "bad name": 1, "request_id": "r"}}
    allowed = Carrier(structlog_keys={"request_id"}, strict=True)  # strict: would raise
    assert allowed.decode(carrier).log_context == {"request_id": "r"}
    excluded = Carrier(structlog_exclude={"side"})
    decoded = excluded.decode({STRUCTLOG_KEY: {"side": float("nan"), "request_id": "r"}})
    assert (decoded.log_context, decoded.dropped) == ({"request_id": "r"}, ())


def test_the_workers_carrier_protects_its_own_key_from_any_producer(no_warnings: None) -> None:
    carrier = _from_an_unfiltered_producer(side="web", request_id="r-1")
    bind(side="worker")
    with WEB_ONLY.extract(carrier):
        assert get_bound() == {"side": "worker", "request_id": "r-1"}
    assert get_bound() == {"side": "worker"}


def test_inspect_shows_what_the_carrier_in_use_would_restore() -> None:
    carrier = _from_an_unfiltered_producer(side="web", request_id="r-1")
    assert inspect_carrier(carrier, WEB_ONLY).structlog == {"request_id": "r-1"}
    assert inspect_carrier(carrier).structlog == {"side": "web", "request_id": "r-1"}


# ---------------------------------------------------------------- the collision rule


def test_a_carried_key_replaces_the_workers_value_for_the_task_only() -> None:
    carrier = _from_an_unfiltered_producer(side="web", request_id="r-1")
    bind(side="worker", worker_id="w-1")
    with extract(carrier):
        assert get_bound() == {"side": "web", "worker_id": "w-1", "request_id": "r-1"}
        bind(side="task")  # the task's own binding is undone too
    assert get_bound() == {"side": "worker", "worker_id": "w-1"}


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("setting", ["structlog_keys", "structlog_exclude"])
@pytest.mark.parametrize("value", ["side", b"side"])
def test_a_single_string_instead_of_a_collection_is_a_type_error(setting: str, value: Any) -> None:
    with pytest.raises(TypeError, match=rf"{setting} needs a collection of key names, not a"):
        Carrier(**{setting: value})


@pytest.mark.parametrize("setting", ["structlog_keys", "structlog_exclude"])
def test_key_names_must_be_strings_that_can_travel(setting: str) -> None:
    with pytest.raises(TypeError, match="key names must be str, not int"):
        Carrier(**{setting: ["side", 3]})
    with pytest.raises(TypeError, match="not int"):
        Carrier(**{setting: 3})
    with pytest.raises(ValueError, match="'not a name' is not a key name that can travel"):
        Carrier(**{setting: ["not a name"]})


def test_the_lists_are_frozensets_and_the_carrier_stays_comparable() -> None:
    carrier = Carrier(structlog_keys=["a", "b", "a"], structlog_exclude=("c",))
    assert carrier.structlog_keys == frozenset({"a", "b"})
    assert carrier.structlog_exclude == frozenset({"c"})
    assert carrier == Carrier(structlog_keys={"b", "a"}, structlog_exclude=["c"])
    assert hash(carrier) == hash(Carrier(structlog_keys={"b", "a"}, structlog_exclude=["c"]))
    assert Carrier().structlog_keys is None
    assert Carrier().structlog_exclude == frozenset()
    bind(a=1, b=2, c=3)
    assert _carried_log(carrier.inject()) == {"a": 1, "b": 2}
    assert _carried_log(carrier.replace(structlog_exclude=["a"]).inject()) == {"b": 2}
    assert "_log_selection" not in repr(carrier)


# ---------------------------------------------------------------- property

name_sets = st.frozensets(KEY_NAMES, max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    produced=st.dictionaries(KEY_NAMES, json_values, max_size=6),
    worker=st.dictionaries(KEY_NAMES, st.text(max_size=5), max_size=4),
    keys=st.none() | name_sets,
    exclude=name_sets,
)
def test_exactly_the_selected_keys_travel_at_both_ends(
    produced: dict[str, Any],
    worker: dict[str, Any],
    keys: frozenset[str] | None,
    exclude: frozenset[str],
) -> None:
    selected = Carrier(structlog_keys=keys, structlog_exclude=exclude, strict=True)

    def travels(key: str) -> bool:
        return (keys is None or key in keys) and key not in exclude

    expected = {k: v for k, v in produced.items() if travels(k)}

    def produce(carrier: Carrier) -> dict[str, Any]:
        bind(**produced)
        return json.loads(json.dumps(carrier.inject(), allow_nan=False))

    def consume(carrier: dict[str, Any]) -> tuple[QueueContext, dict[str, Any], dict[str, Any]]:
        bind(**worker)
        before = get_bound()
        with selected.extract(carrier) as ctx:
            during = get_bound()
        assert get_bound() == before
        return ctx, during, before

    packed = in_fresh_context(produce, selected)
    assert packed.get(STRUCTLOG_KEY, {}) == expected
    unfiltered = in_fresh_context(produce, Carrier())
    for carrier in (packed, unfiltered):
        ctx, during, before = in_fresh_context(consume, carrier)
        assert ctx.log_context == expected
        assert ctx.dropped == ()
        assert during == {**before, **expected}  # a carried key replaces the worker's value
