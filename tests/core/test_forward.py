"""A carried QueueVar this process has not registered: forwarded, with a module hint.

The worker that runs a task may not have imported the module defining a
QueueVar; the value must still reach the tasks it enqueues, unchanged, and the
warning must say which module to import (docs/concepts.md, "QueueVars exist in
every process").
"""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxcarry import Carrier, CarrierError, QueueVar, extract, inject
from ctxcarry.inspection import inspect_carrier, render_text
from tests.core.test_properties import json_values
from tests.core.test_untrusted import ExplodingMapping
from tests.core.vars import tenant_id

UNREGISTERED = "fwd_unregistered.organisation_id"
MODULE = "myproject.context"


def carried(value: Any = 42, name: str = UNREGISTERED, modules: Any = None) -> dict[str, Any]:
    """A carrier as a producer that registered ``name`` (in ``MODULE``) writes it."""
    envelope: dict[str, Any] = {"v": 1, "vars": {name: value}}
    envelope["modules"] = {name: MODULE} if modules is None else modules
    return {"ctxcarry": envelope}


def sent_vars() -> dict[str, Any]:
    return dict(inject().get("ctxcarry", {}).get("vars", {}))


def sent_modules() -> dict[str, Any]:
    return dict(inject().get("ctxcarry", {}).get("modules", {}))


def test_forwarded_unchanged_inside_the_block_only(caplog: pytest.LogCaptureFixture) -> None:
    value = {"id": 42, "tags": ["a", "b"]}
    with caplog.at_level(logging.WARNING, "ctxcarry"), extract(carried(value)):
        assert sent_vars() == {UNREGISTERED: value}
        assert sent_modules() == {UNREGISTERED: MODULE}
        nested = inject()
        nested["ctxcarry"]["vars"][UNREGISTERED]["tags"].append("mutated by a caller")
        assert sent_vars() == {UNREGISTERED: value}  # each carrier gets its own copy
    assert sent_vars() == {}
    assert "ctxcarry" not in inject()
    [record] = caplog.records
    assert (
        f"QueueVar {UNREGISTERED!r} is not registered in this process (defined in {MODULE} "
        f"where the task was enqueued): import that module in the worker, e.g. "
        f'install(queuevars=["{MODULE}"]) or CTXCARRY["QUEUEVARS"]; its value is forwarded '
        f"unchanged to tasks enqueued here"
    ) in record.getMessage()


def test_forwarded_beside_the_registered_vars_set_here() -> None:
    with extract(carried("x")), tenant_id("acme"):
        assert sent_vars() == {UNREGISTERED: "x", "core_tenant_id": "acme"}
        assert sent_modules() == {UNREGISTERED: MODULE, "core_tenant_id": "tests.core.vars"}


def test_a_nested_extract_replaces_what_is_forwarded() -> None:
    other = "fwd_unregistered.other"
    with extract(carried(1)):
        with extract({}):
            assert sent_vars() == {}
        with extract(carried(2, name=other)):
            assert sent_vars() == {other: 2}
        assert sent_vars() == {UNREGISTERED: 1}
    assert sent_vars() == {}


def test_the_var_registered_later_wins() -> None:
    name = "fwd_registered_later"
    with extract(carried("from the carrier", name=name)):
        assert sent_vars() == {name: "from the carrier"}
        later: QueueVar[str | None] = QueueVar(name, default=None)
        assert sent_vars() == {}  # registered and unset here: its default, not the stale value
        with later("set here"):
            assert sent_vars() == {name: "set here"}


def test_forwarded_values_count_towards_max_keys_and_max_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        extract(carried("y" * 300)),
        tenant_id("acme"),
        caplog.at_level(logging.WARNING, "ctxcarry"),
    ):
        small = Carrier(max_bytes=256).inject()
        one_key = Carrier(max_keys=1).inject()
    assert small["ctxcarry"]["vars"] == {"core_tenant_id": "acme"}
    assert len(json.dumps(small, separators=(",", ":"))) <= 256
    assert one_key["ctxcarry"]["vars"] == {"core_tenant_id": "acme"}
    messages = [record.getMessage() for record in caplog.records]
    assert any(f"QueueVar {UNREGISTERED!r}: 302 bytes do not fit" in m for m in messages)
    assert any(f"QueueVar {UNREGISTERED!r}: over max_keys=1" in m for m in messages)


def test_a_strict_carrier_still_refuses_an_unregistered_var() -> None:
    extraction = Carrier(strict=True).extract(carried())
    with pytest.raises(CarrierError, match="is not registered in this process"):
        extraction.enter()
    assert sent_vars() == {}


def test_without_a_hint_the_warning_says_how_to_register(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "ctxcarry"), extract(carried(modules={})):
        assert sent_vars() == {UNREGISTERED: 42}
        assert sent_modules() == {}
    message = caplog.records[0].getMessage()
    assert f"QueueVar {UNREGISTERED!r} is not registered in this process: import the " in message
    assert "forwarded unchanged" in message


def test_a_value_outside_the_wire_rule_is_dropped_not_forwarded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "ctxcarry"), extract(carried(2**60)):
        assert sent_vars() == {}
    message = caplog.records[0].getMessage()
    assert "is not registered in this process" in message
    assert "its value is dropped" in message
    assert str(2**60) not in message


HOSTILE_HINTS: list[Any] = [
    "myproject.context",  # not an object
    [MODULE],
    {UNREGISTERED: "import os; os.system('x')"},
    {UNREGISTERED: "a." * 150 + "b"},  # too long
    {UNREGISTERED: "caf\u00e9.context"},
    {UNREGISTERED: "line\nbreak"},
    {UNREGISTERED: ".leading.dot"},
    {UNREGISTERED: "x" * 5 + "\x00"},
    {UNREGISTERED: 7},
    {UNREGISTERED: None},
    {UNREGISTERED: {"nested": MODULE}},
    ExplodingMapping(),
]


@pytest.mark.parametrize("hints", HOSTILE_HINTS, ids=range(len(HOSTILE_HINTS)))
def test_a_hostile_hint_is_ignored_and_never_echoed(
    hints: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "ctxcarry"), extract(carried(modules=hints)):
        assert sent_vars() == {UNREGISTERED: 42}  # the value is still forwarded
        assert sent_modules() == {}
    [record] = caplog.records
    message = record.getMessage()
    assert "is not registered in this process: import the module" in message
    for fragment in ("os.system", "a.a.a.a", "caf", "line", "leading", "xxxxx", "nested"):
        assert fragment not in message


def test_extra_envelope_fields_are_ignored_by_the_decoder() -> None:
    carrier = {"ctxcarry": {"v": 1, "vars": {"core_tenant_id": "acme"}, "future": [1, {}]}}
    with extract(carrier) as context:
        assert tenant_id.get() == "acme"
    assert context.dropped == ()


def test_hints_are_left_out_for_main_and_at_the_limits() -> None:
    main_var: QueueVar[str | None] = eval(  # defined by code whose module is __main__
        "QueueVar('fwd_in_main', default=None)", {"QueueVar": QueueVar, "__name__": "__main__"}
    )
    with main_var("m"), tenant_id("acme"):
        assert sent_modules() == {"core_tenant_id": "tests.core.vars"}
        near_limit = Carrier(max_bytes=256).inject({"big": "z"})
        assert "modules" in near_limit["ctxcarry"]
        with tenant_id("t" * 150):
            tight = Carrier(max_bytes=256).inject()
    assert tight["ctxcarry"]["vars"]["core_tenant_id"] == "t" * 150
    assert "modules" not in tight["ctxcarry"]  # the optional hint gives way to the values
    assert len(json.dumps(tight, separators=(",", ":"))) <= 256


def test_the_duplicate_error_names_the_first_definition() -> None:
    QueueVar("fwd_duplicate", default=None)
    line = test_the_duplicate_error_names_the_first_definition.__code__.co_firstlineno + 1
    with pytest.raises(ValueError, match="already registered") as raised:
        QueueVar("fwd_duplicate", default=None)
    message = str(raised.value)
    assert "'fwd_duplicate' is already registered" in message
    assert f"defined in module {__name__!r} at {__file__}:{line}" in message


def test_a_subclass_records_the_module_that_creates_the_var() -> None:
    class Tenant(QueueVar[str]):
        def __init__(self, name: str) -> None:
            super().__init__(name, default="none")

    Tenant("fwd_subclassed")
    with pytest.raises(ValueError, match=f"defined in module {__name__!r}"):
        QueueVar("fwd_subclassed", default=None)


def test_inspect_shows_the_module_hint() -> None:
    report = inspect_carrier(carried("acme"))
    assert report.unknown_modules == {UNREGISTERED: MODULE}
    assert report.as_json()["unknown_queuevar_modules"] == {UNREGISTERED: MODULE}
    assert f'= "acme"  (defined in {MODULE})' in render_text(report)
    assert inspect_carrier(carried("acme", modules={UNREGISTERED: "no good"})).unknown_modules == {}


@settings(max_examples=100, deadline=None)
@given(value=json_values, depth=st.integers(1, 3))
def test_any_value_is_forwarded_exactly_at_every_depth(value: Any, depth: int) -> None:
    def hops() -> None:
        carrier = carried(value)
        for _ in range(depth):  # each hop is a worker without the var, enqueueing the next
            with extract(carrier):
                carrier = inject()
        assert carrier["ctxcarry"]["vars"] == {UNREGISTERED: value}
        assert carrier["ctxcarry"]["modules"] == {UNREGISTERED: MODULE}
        assert "ctxcarry" not in inject()

    contextvars.Context().run(hops)
