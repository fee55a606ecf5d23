"""Decode's work is bounded by the budget, not by the carrier (issue 10 item 7).

Never a timing assertion: the work is counted as calls of the JSON walker, which
is where a hostile carrier's cost went (each value was checked against the whole
budget, so 64 values cost 64 budgets). Figures against ``json.loads`` are in
docs/performance.md; the carriers are in :mod:`tests.core.hostile_carriers`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ctxcarry import Carrier
from ctxcarry import _jsonvalue as jsonvalue
from tests.core.hostile_carriers import hostile_carriers

MAX_BYTES = 32 * 1024
CARRIERS = hostile_carriers(MAX_BYTES)


@pytest.fixture
def walker_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every step of the exact JSON walker (recursive calls included)."""
    calls = [0]
    real = jsonvalue._exact

    def counting(value: Any, depth: int, limit: int) -> Any:
        calls[0] += 1
        return real(value, depth, limit)

    monkeypatch.setattr(jsonvalue, "_exact", counting)
    return calls


@pytest.mark.parametrize("name", CARRIERS)
def test_decode_walks_at_most_a_few_budgets(name: str, walker_calls: list[int]) -> None:
    decoded = Carrier(max_bytes=MAX_BYTES).decode(json.loads(CARRIERS[name]))
    # Each walker step accounts for at least one byte of JSON, and decode
    # walks at most three budgets' worth (what it keeps, plus one budget of
    # values refused as too large, plus the one that ended it).
    assert walker_calls[0] <= 3 * MAX_BYTES
    kept = json.dumps(
        {"structlog_context": dict(decoded.log_context), **decoded.trace_headers},
        separators=(",", ":"),
    )
    assert len(kept) <= MAX_BYTES


def test_values_that_fit_are_kept_and_the_rest_dropped_by_name() -> None:
    decoded = Carrier(max_bytes=MAX_BYTES).decode(
        json.loads(CARRIERS["64 lists of zeros, each fits alone"])
    )
    assert list(decoded.log_context) == ["k0"]
    assert decoded.trace_headers
    assert sum("does not fit" in line for line in decoded.dropped) == 63


@pytest.mark.parametrize("sections", ["vars", "log", "both"])
def test_every_carrier_inject_writes_at_the_limit_decodes_whole(sections: str) -> None:
    import contextvars

    import structlog

    from tests.core.vars import payload, tenant_id

    for max_bytes in range(256, 420, 3):
        for filler in range(0, 300, 7):

            def produce(max_bytes: int = max_bytes, filler: int = filler) -> dict[str, Any]:
                if sections in ("log", "both"):
                    structlog.contextvars.bind_contextvars(note="n" * filler, n=[0] * 9)
                if sections in ("vars", "both"):
                    tenant_id.set("t" * filler)
                    payload.set([[0]] * 9)
                return Carrier(max_bytes=max_bytes).inject()

            carrier = contextvars.Context().run(produce)
            decoded = Carrier(max_bytes=max_bytes).decode(carrier)
            assert decoded.dropped == (), (max_bytes, filler, decoded.dropped)
