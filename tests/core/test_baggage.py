"""Baggage is checked member by member before OpenTelemetry sees it (issue 10 item 8).

OTel's propagator logs one WARNING per malformed member, each with the member's
text: a carrier must never be able to make it do that. Invalid members are
dropped by ctxcarry, named by count in its one warning, and the valid ones kept.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry import baggage

from ctxcarry import extract
from ctxcarry._trace import filter_baggage

BAD_MEMBERS = [
    "no-equals-sign",
    "bad key=1",
    "k=v w",
    'k="quoted"',
    "k=\\",
    "k=caf\u00e9",
    "=value",
    "k=v;bad prop=1",
    "k=" + "x" * 4100,
]


def _extract_baggage(header: str, caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    with caplog.at_level(logging.DEBUG), extract({"baggage": header}):
        return dict(baggage.get_all())


def _otel_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("opentelemetry")]


def test_179_malformed_members_make_no_otel_log_line_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    header = ",".join(["tenant=acme", *(f"bad member {i}" for i in range(179))])
    assert len(header) <= 8192
    got = _extract_baggage(header, caplog)
    assert got == {"tenant": "acme"}
    assert _otel_records(caplog) == []
    ours = [r for r in caplog.records if r.name == "ctxcarry"]
    assert len(ours) == 1
    assert "179 invalid member(s)" in ours[0].getMessage()
    assert "bad member" not in ours[0].getMessage()


@pytest.mark.parametrize("member", BAD_MEMBERS)
def test_each_kind_of_bad_member_is_dropped_alone(
    member: str, caplog: pytest.LogCaptureFixture
) -> None:
    got = _extract_baggage(f"a=1, {member} ,b=2;prop;p2=x", caplog)
    assert got == {"a": "1", "b": "2;prop;p2=x"}  # OTel keeps properties in the value
    assert _otel_records(caplog) == []


def test_an_8190_character_member_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    got = _extract_baggage("k=" + "v" * 8188, caplog)
    assert got == {}
    assert _otel_records(caplog) == []
    assert all(len(r.getMessage()) < 300 for r in caplog.records)


def test_more_than_180_members_keeps_the_first_180_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got = _extract_baggage(",".join(f"k{i}=v" for i in range(200)), caplog)
    assert len(got) == 180
    assert _otel_records(caplog) == []


def test_a_valid_baggage_string_is_passed_through_unchanged() -> None:
    header = "userId=alice, serverNode=DF%2028;prop, isProduction=false;a=b"
    assert filter_baggage(header) == (header, 0)
