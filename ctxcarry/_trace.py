"""W3C trace context fields: which keys they are, and when a value is safe for OTel.

The fields are whatever the global OpenTelemetry propagator reads and writes
(``traceparent``, ``tracestate``, ``baggage`` by default; ``OTEL_PROPAGATORS``
can change that). Values read from a carrier are checked before OTel sees them:
OTel's baggage propagator logs an oversized header in full, and a hostile
multi-megabyte string has no business reaching a regex.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "FIELD_LIMITS",
    "W3C_FIELDS",
    "Traceparent",
    "check_trace_value",
    "extract_trace",
    "filter_baggage",
    "is_common_traceparent",
    "parse_traceparent",
    "trace_fields",
]

#: The W3C fields of OTel's default propagators, in the order the budget keeps them.
W3C_FIELDS = ("traceparent", "tracestate", "baggage")
#: Longest accepted value per field; other propagators' fields get ``DEFAULT_LIMIT``.
FIELD_LIMITS = {"traceparent": 512, "tracestate": 4096, "baggage": 8192}
DEFAULT_LIMIT = 8192
#: W3C: at most 32 tracestate members. OTel's baggage propagator: at most 180
#: members of at most 4,096 bytes each (and 8,192 in all, ``FIELD_LIMITS``).
MAX_TRACESTATE_MEMBERS = 32
MAX_BAGGAGE_MEMBERS = 180
MAX_BAGGAGE_MEMBER_LENGTH = 4096

# W3C Baggage: list-member = key OWS "=" OWS value *( OWS ";" OWS property ),
# property = key OWS "=" OWS value / key; key is an RFC 7230 token, value is
# baggage-octets (printable ASCII but space, '"', ',', ';' and '\').
_OWS = r"[ \t]*"
_KEY = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VALUE = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_PROPERTY = f"{_KEY}(?:{_OWS}={_OWS}{_VALUE})?"
_MEMBER = f"{_OWS}{_KEY}{_OWS}={_OWS}{_VALUE}(?:{_OWS};{_OWS}{_PROPERTY})*{_OWS}"
_baggage_member = re.compile(_MEMBER).fullmatch
_baggage_string = re.compile(f"{_MEMBER}(?:,{_MEMBER}){{0,{MAX_BAGGAGE_MEMBERS - 1}}}").fullmatch
_baggage_split = re.compile(f"{_OWS},{_OWS}").split

# W3C Trace Context level 2: version-traceid-parentid-flags; future versions may append.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# Version 00 with non-zero ids (the zero checks are the negative lookaheads).
_TRACEPARENT_00 = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
_common_match = _TRACEPARENT_00.fullmatch


def is_common_traceparent(value: object) -> bool:
    """True for a valid version-00 traceparent: the common case, in one C call.

    ``False`` means "look closer" (:func:`check_trace_value`), not "invalid".
    """
    return type(value) is str and len(value) == 55 and _common_match(value) is not None


_cached: tuple[TextMapPropagator | None, tuple[str, ...]] = (None, ())


def trace_fields() -> tuple[str, ...]:
    """The carrier keys the global propagator uses (cached per propagator object)."""
    global _cached
    textmap = propagate.get_global_textmap()
    cached_for, fields = _cached
    if cached_for is not textmap:
        fields = tuple(sorted(textmap.fields))
        _cached = (textmap, fields)
    return fields


#: The global propagator last looked at, and whether it is OTel's default one.
_default_seen: tuple[TextMapPropagator | None, bool] = (None, False)
_DEFAULT_PROPAGATORS = (TraceContextTextMapPropagator, W3CBaggagePropagator)


def _is_default_propagator(textmap: TextMapPropagator) -> bool:
    """True when ``textmap`` is OTel's default: W3C trace context, then W3C baggage.

    Exactly those two classes (not subclasses), in that order, inside OTel's
    composite propagator; anything else -- ``OTEL_PROPAGATORS``, a vendor's
    propagator, a future OTel that keeps its list elsewhere -- is not.
    """
    inner = getattr(textmap, "_propagators", None)
    return (
        type(inner) is list
        and len(inner) == 2
        and all(type(p) is cls for p, cls in zip(inner, _DEFAULT_PROPAGATORS, strict=True))
    )


def extract_trace(headers: Mapping[str, str]) -> Context:
    """What ``propagate.extract(headers)`` returns, for headers decode checked.

    Only for headers ``Carrier.decode`` returned: their grammar is not checked again.

    The common case -- OTel's default propagator and a version-00
    traceparent alone (no tracestate, no baggage) -- is built here from the
    traceparent decode already validated, exactly as OTel's trace-context
    propagator builds it (a remote span context in a new, empty Context), instead
    of matching it against OTel's regex a second time: that regex and its
    calls are a third of what restoring a carrier costs. Anything else goes
    through the global propagator, unchanged.
    """
    global _default_seen
    if len(headers) == 1:
        traceparent = headers.get("traceparent")
        # decode let it through, so this shape is a version-00 traceparent with
        # non-zero ids (is_common_traceparent), without matching it a second time
        if type(traceparent) is str and len(traceparent) == 55 and traceparent[:3] == "00-":
            textmap = propagate.get_global_textmap()
            seen, is_default = _default_seen
            if seen is not textmap:
                is_default = _is_default_propagator(textmap)
                _default_seen = (textmap, is_default)
            if is_default:
                span_context = otel_trace.SpanContext(
                    trace_id=int(traceparent[3:35], 16),
                    span_id=int(traceparent[36:52], 16),
                    is_remote=True,
                    trace_flags=otel_trace.TraceFlags(int(traceparent[53:55], 16)),
                )
                span = otel_trace.NonRecordingSpan(span_context)
                return otel_trace.set_span_in_context(span, Context())
    return propagate.extract(headers)


def check_trace_value(field: str, value: object, *, trusted: bool = False) -> str | None:
    """``None`` if ``value`` is safe to hand to OTel for ``field``, else the reason.

    ``trusted`` values come from this process's own propagator (inject): only
    their type and size are checked, not their grammar.
    """
    if type(value) is not str:
        return f"is {type(value).__name__}, not a string"
    if field == "traceparent" and is_common_traceparent(value):
        return None
    limit = FIELD_LIMITS.get(field, DEFAULT_LIMIT)
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if field == "baggage" and not trusted:
        return None  # checked member by member: filter_baggage
    if not (value.isascii() and value.isprintable()):
        return "has characters outside printable ASCII"
    if trusted:
        return None
    if field == "traceparent":
        return _traceparent_problem(value)
    if field == "tracestate" and value.count(",") >= MAX_TRACESTATE_MEMBERS:
        return f"has more than {MAX_TRACESTATE_MEMBERS} members"
    return None


def filter_baggage(value: str) -> tuple[str, int]:
    """Keep the baggage members OpenTelemetry accepts silently; count the others.

    Returns the members that match the W3C grammar and OTel's limits (at most
    :data:`MAX_BAGGAGE_MEMBERS`, each at most :data:`MAX_BAGGAGE_MEMBER_LENGTH`
    bytes), joined as they were, and how many were dropped. OTel's propagator
    logs one WARNING with the member's text for each member it refuses; what
    this returns makes it log nothing. A valid string is returned unchanged
    (one C-level match). ``value`` must be at most 8,192 characters (see
    :func:`check_trace_value`).
    """
    if len(value) <= MAX_BAGGAGE_MEMBER_LENGTH and _baggage_string(value) is not None:
        return value, 0
    return _filter_baggage_members(value)


def _filter_baggage_members(value: str) -> tuple[str, int]:
    """The member-by-member path of :func:`filter_baggage` (the reference for its fast path)."""
    kept: list[str] = []
    dropped = 0
    for member in _baggage_split(value):
        if not member.strip(" \t"):
            continue  # an empty member: OTel skips it without a word
        if (
            len(kept) < MAX_BAGGAGE_MEMBERS
            and len(member) <= MAX_BAGGAGE_MEMBER_LENGTH
            and _baggage_member(member) is not None
        ):
            kept.append(member)
        else:
            dropped += 1
    return ",".join(kept), dropped


class Traceparent(NamedTuple):
    """A traceparent taken apart (only its grammar checked, see :func:`check_trace_value`)."""

    version: str
    trace_id: str
    parent_id: str
    flags: str
    #: What a future version appends after the flags (``None`` when nothing).
    rest: str | None

    @property
    def sampled(self) -> bool:
        return bool(int(self.flags, 16) & 1)


def parse_traceparent(value: str) -> Traceparent | None:
    """The fields of a traceparent matching the W3C grammar, else ``None``."""
    match = _TRACEPARENT.fullmatch(value)
    return None if match is None else Traceparent(*match.groups())


def _traceparent_problem(value: str) -> str | None:
    parsed = parse_traceparent(value)
    if parsed is None:
        return "is not a W3C traceparent"
    if parsed.version == "ff" or (parsed.version == "00" and parsed.rest is not None):
        return "has an invalid traceparent version"
    if parsed.trace_id == _ZERO_TRACE_ID or parsed.parent_id == _ZERO_SPAN_ID:
        return "has an all-zero trace or span id"
    return None
