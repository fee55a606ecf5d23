"""Blocks that exit out of order still restore exactly (the restore engine's stack).

Two generators, each inside ``with extract(...)``, closed in the order they
were opened: the first block closes while the second is still open. Before the
engine kept a stack, the second block's exit put back the first carrier's
bindings, silently.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace

from ctxcarry import extract
from tests.core.vars import tenant_id as tenant


def _carrier(tenant_value: str, **log: Any) -> dict[str, Any]:
    return {
        "ctxcarry": {"v": 1, "vars": {"core_tenant_id": tenant_value}},
        "structlog_context": log,
    }


def _inside(carrier: dict[str, Any]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    with extract(carrier):
        while True:
            yield tenant.get(), structlog.contextvars.get_contextvars()


def _owned_state() -> tuple[str | None, dict[str, Any]]:
    return tenant.get(), structlog.contextvars.get_contextvars()


def test_generators_closed_in_opening_order_leave_the_caller_exactly_as_it_was() -> None:
    def scenario() -> None:
        structlog.contextvars.bind_contextvars(caller="kept")
        before = _owned_state()
        first, second = _inside(_carrier("one", job="1")), _inside(_carrier("two", job="2"))
        assert next(first) == ("one", {"caller": "kept", "job": "1"})
        assert next(second) == ("two", {"caller": "kept", "job": "2"})
        first.close()  # out of order: the second block is still open
        assert _owned_state() == ("two", {"caller": "kept", "job": "2"})
        second.close()
        assert _owned_state() == before

    contextvars.Context().run(scenario)


def test_the_later_block_keeps_what_it_bound_when_the_earlier_one_closes() -> None:
    def scenario() -> None:
        first, second = _inside(_carrier("one", job="1")), _inside(_carrier("two"))
        next(first)
        next(second)
        structlog.contextvars.bind_contextvars(step="second's own")
        first.close()
        assert structlog.contextvars.get_contextvars() == {"step": "second's own"}
        assert tenant.get() == "two"
        second.close()
        assert _owned_state() == (None, {})

    contextvars.Context().run(scenario)


def test_an_attached_trace_is_undone_whatever_the_exit_order() -> None:
    parent_one = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    parent_two = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"

    def trace_id() -> int:
        return trace.get_current_span().get_span_context().trace_id

    def scenario() -> None:
        first = extract({"traceparent": parent_one})
        second = extract({"traceparent": parent_two})
        first.enter()
        second.enter()
        assert f"{trace_id():032x}" == parent_two.split("-")[1]
        first.exit()
        assert f"{trace_id():032x}" == parent_two.split("-")[1]
        second.exit()
        assert trace_id() == 0

    contextvars.Context().run(scenario)


@settings(max_examples=200, deadline=None)
@given(
    carriers=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.dictionaries(st.sampled_from(["k1", "k2", "k3"]), st.text(max_size=3), max_size=3),
        ),
        min_size=1,
        max_size=4,
    ),
    exit_order=st.randoms(use_true_random=False),
    bind_inside=st.lists(st.sampled_from(["k1", "k2", "x"]), max_size=4),
)
def test_any_exit_order_restores_the_caller_exactly(
    carriers: list[tuple[str, dict[str, str]]], exit_order: Any, bind_inside: list[str]
) -> None:
    def scenario() -> None:
        structlog.contextvars.bind_contextvars(k1="outer")
        before = _owned_state()
        blocks = [extract(_carrier(value, **log)) for value, log in carriers]
        for block in blocks:
            block.enter()
            for key in bind_inside:
                structlog.contextvars.bind_contextvars(**{key: "inner"})
        order = list(range(len(blocks)))
        exit_order.shuffle(order)
        for index in order:
            blocks[index].exit()
        assert _owned_state() == before

    contextvars.Context().run(scenario)
