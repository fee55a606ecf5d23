"""A carrier is untrusted input: the block always runs, nothing raises, one warning."""

from __future__ import annotations

import logging
import string
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import structlog
from opentelemetry import trace

from ctxcarry import Carrier, CarrierError, extract
from ctxcarry._names import NameAllowance, name_allowance
from tests.core.helpers import context_state
from tests.core.vars import broken, org_id, plan, request_uuid, tenant_id, tier

GOOD_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TWO_MB = "x" * (2 * 1024 * 1024)


class ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("hostile")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("hostile")

    def __len__(self) -> int:
        return 1


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


JUNK: dict[str, Any] = {
    "a list": [1, 2, 3],
    "a string": "traceparent",
    "an int": 5,
    "bytes": b"{}",
    "hostile mapping": ExplodingMapping(),
    "envelope not an object": {"ctxcarry": [1]},
    "vars not an object": {"ctxcarry": {"v": 1, "vars": "tenant"}},
    "version missing": {"ctxcarry": {"vars": {"core_tenant_id": "x"}}},
    "version a string": {"ctxcarry": {"v": "1", "vars": {"core_tenant_id": "x"}}},
    "version a bool": {"ctxcarry": {"v": True, "vars": {"core_tenant_id": "x"}}},
    "future version": {"ctxcarry": {"v": 99, "vars": {"core_tenant_id": "x"}}},
    "unknown queuevar": {"ctxcarry": {"v": 1, "vars": {"core_not_registered": 1}}},
    "queuevar wrong type": {"ctxcarry": {"v": 1, "vars": {"core_org_id": "42"}}},
    "queuevar bool as int": {"ctxcarry": {"v": 1, "vars": {"core_org_id": True}}},
    "codec refuses": {"ctxcarry": {"v": 1, "vars": {"core_request_uuid": "nope"}}},
    "enum codec refuses": {"ctxcarry": {"v": 1, "vars": {"core_plan": "enterprise\n"}}},
    "priority out of range": {"ctxcarry": {"v": 1, "vars": {"priority": 10_000}}},
    "structlog not an object": {"structlog_context": ["a"]},
    "bad key names": {"structlog_context": {"a b": 1, "": 2, "x" * 65: 3, "\n": 4, "ü": 5}},
    "non-JSON value": {"structlog_context": {"ok": {1, 2}}},
    "ellipsis value": {"structlog_context": {"ok": ...}},
    "nan value": {"structlog_context": {"ok": float("nan")}},
    "2 MB string": {"structlog_context": {"big": TWO_MB}},
    "2 MB queuevar": {"ctxcarry": {"v": 1, "vars": {"core_tenant_id": TWO_MB}}},
    "deep nesting": {"structlog_context": {"deep": _nested(40)}},
    "malformed traceparent": {"traceparent": "00-zz-bad"},
    "traceparent wrong type": {"traceparent": ["00-..."]},
    "2 MB traceparent": {"traceparent": TWO_MB},
    "newline in traceparent": {"traceparent": GOOD_TRACEPARENT + "\r\nX-Evil: 1"},
    "2 MB baggage": {"baggage": "k=" + TWO_MB},
    "too many baggage members": {"baggage": ",".join(f"k{i}=v" for i in range(500))},
    "too many tracestate members": {"tracestate": ",".join(f"k{i}=v" for i in range(40))},
}


@pytest.mark.parametrize("carrier", JUNK.values(), ids=JUNK.keys())
def test_junk_never_raises_block_runs_nothing_leaks(carrier: Any) -> None:
    structlog.contextvars.bind_contextvars(worker_id="w")
    before = context_state()
    ran = False
    with extract(carrier):
        ran = True
        assert structlog.contextvars.get_contextvars()["worker_id"] == "w"
        assert tenant_id.get() is None
    assert ran
    assert context_state() == before


@pytest.mark.parametrize("carrier", JUNK.values(), ids=JUNK.keys())
def test_junk_gives_one_warning_and_strict_mode_raises(
    carrier: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ctxcarry"), extract(carrier) as ctx:
        pass
    warnings = [r for r in caplog.records if r.name == "ctxcarry"]
    assert len(warnings) == 1, caplog.text
    assert ctx.dropped
    with pytest.raises(CarrierError), Carrier(strict=True).extract(carrier):
        pass


def test_what_is_safe_is_still_restored_next_to_junk(tracer: trace.Tracer) -> None:
    carrier = {
        "traceparent": GOOD_TRACEPARENT,
        "baggage": 123,
        "structlog_context": {"request_id": "r", "bad key": 1, "big": TWO_MB},
        "ctxcarry": {
            "v": 1,
            "vars": {"core_tenant_id": "acme", "core_org_id": "NaN", "core_unknown": 1},
        },
    }
    with extract(carrier) as ctx:
        assert tenant_id.get() == "acme"
        assert org_id.get() is None
        assert structlog.contextvars.get_contextvars() == {"request_id": "r"}
        assert format(trace.get_current_span().get_span_context().trace_id, "032x") == (
            "0af7651916cd43dd8448eb211c80319c"
        )
    assert len(ctx.dropped) == 5


def test_future_version_still_restores_trace_and_structlog_keys() -> None:
    carrier = {"structlog_context": {"request_id": "r"}, "ctxcarry": {"v": 2, "vars": {}}}
    with extract(carrier) as ctx:
        assert structlog.contextvars.get_contextvars() == {"request_id": "r"}
    assert ctx.version == 2
    assert any("newer" in line for line in ctx.dropped)


def test_none_means_nothing_was_carried_and_is_not_a_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="ctxcarry"), extract(None) as ctx:
        pass
    assert caplog.records == []
    assert ctx.dropped == ()
    assert len(ctx) == 0


def test_100000_keys_cost_bounded_work_and_keep_max_keys() -> None:
    many = {f"key_{i}": i for i in range(100_000)}
    with extract({"structlog_context": many}) as ctx:
        assert len(structlog.contextvars.get_contextvars()) == 64
    assert any("99936 more" in line for line in ctx.dropped)


def test_oversized_baggage_never_reaches_opentelemetry(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), extract({"baggage": "k=" + "v" * 9000}):
        pass
    otel_lines = [r for r in caplog.records if r.name.startswith("opentelemetry")]
    assert otel_lines == []
    assert "v" * 100 not in caplog.text


def test_hostile_names_are_escaped_and_truncated_in_the_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "evil\nINFO fake log line " + "z" * 500
    with caplog.at_level(logging.WARNING), extract({"structlog_context": {name: 1}}):
        pass
    assert "\nINFO fake" not in caplog.text
    assert "z" * 100 not in caplog.text


def test_new_key_names_are_capped_per_process() -> None:
    allowance = NameAllowance()
    names = [f"fresh_name_{i}" for i in range(10)]
    admitted = [n for n in names if allowance.allow(n, 3)]
    assert admitted == names[:3]
    assert allowance.allow(names[0], 3)  # an admitted name stays admitted


def test_extract_stops_creating_names_at_max_new_names(caplog: pytest.LogCaptureFixture) -> None:
    limit = name_allowance.admitted + 2
    capped = Carrier(max_new_names=limit)
    fresh = {f"unique_{letter}_{id(capped)}": 1 for letter in string.ascii_lowercase[:5]}
    with caplog.at_level(logging.WARNING), capped.extract({"structlog_context": fresh}):
        bound = structlog.contextvars.get_contextvars()
    assert len(bound) == 2
    assert "max_new_names" in caplog.text
    assert name_allowance.admitted == limit


def test_names_structlog_already_knows_cost_nothing() -> None:
    structlog.contextvars.bind_contextvars(already_known_name=1)
    structlog.contextvars.clear_contextvars()
    allowance = NameAllowance()
    assert allowance.allow("already_known_name", 0)
    assert allowance.admitted == 0


def test_codec_errors_are_described_without_the_raw_value() -> None:
    with extract({"ctxcarry": {"v": 1, "vars": {"core_plan": "x\n" + "y" * 300}}}) as ctx:
        assert plan.get() is None
    (line,) = ctx.dropped
    assert "\n" not in line
    assert len(line) < 250


def test_a_user_codec_that_raises_anything_drops_only_its_own_var(
    caplog: pytest.LogCaptureFixture,
) -> None:
    carrier = {
        "traceparent": GOOD_TRACEPARENT,
        "structlog_context": {"request_id": "r-1"},
        "ctxcarry": {"v": 1, "vars": {"core_tier": "platinum", "core_tenant_id": "acme"}},
    }

    with caplog.at_level(logging.WARNING, logger="ctxcarry"), extract(carrier) as ctx:
        restored = (tier.get(), tenant_id.get(), structlog.contextvars.get_contextvars())

    assert restored == (None, "acme", {"request_id": "r-1"})
    assert ctx.trace_headers == {"traceparent": GOOD_TRACEPARENT}
    assert ctx.dropped == ("QueueVar 'core_tier': refused by codec ('platinum')",)
    assert len(caplog.records) == 1


def test_a_codec_error_that_cannot_be_printed_still_drops_only_its_var() -> None:
    carrier = {"ctxcarry": {"v": 1, "vars": {"core_broken_codec": "x", "core_tenant_id": "acme"}}}

    with extract(carrier) as ctx:
        assert (broken.get(), tenant_id.get()) == (None, "acme")
    assert ctx.dropped == ("QueueVar 'core_broken_codec': refused by codec (Unprintable)",)


def test_uuid_codec_round_trip_and_refusal() -> None:
    good = "12345678-1234-5678-1234-567812345678"
    with extract({"ctxcarry": {"v": 1, "vars": {"core_request_uuid": good}}}):
        assert str(request_uuid.get()) == good
