"""The size budget: which entries of a carrier fit in ``max_bytes`` of JSON.

An entry is a ``(key, value, size)`` tuple where ``size`` is the exact JSON
size of ``value`` (see :mod:`ctxcarry._jsonvalue`) and ``key`` is a validated
name, so it needs no escaping. :func:`upper_bound` over-counts a few bytes of
punctuation per section and never under-counts, so a carrier within the bound
is within the budget. When it does not fit, :func:`fit` keeps entries in
priority order -- trace fields first (traceparent, tracestate, baggage), then
QueueVars, then structlog keys, smallest first within each group -- and drops
what does not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ._jsonvalue import JSONValue
from ._wire import ENVELOPE_KEY, STRUCTLOG_KEY

__all__ = [
    "ENTRY_OVERHEAD",
    "ENVELOPE_OVERHEAD",
    "LOG_OVERHEAD",
    "MAX_ESCAPED_CHAR",
    "MAX_ESCAPED_PRINTABLE",
    "QUOTES",
    "SCALAR_BOUND",
    "Entry",
    "Fitted",
    "fit",
    "upper_bound",
]

#: ``(key, JSON value, exact JSON size of the value)``
Entry = tuple[str, JSONValue, int]


class Fitted(NamedTuple):
    """The entries that fit, per section, and those dropped (with their group)."""

    trace: list[Entry]
    queuevars: list[Entry]
    log: list[Entry]
    dropped: list[tuple[str, Entry]]


# ``"ctxcarry":{"v":1,"vars":{}}`` plus a comma; ``"structlog_context":{}`` plus a comma.
ENVELOPE_OVERHEAD = len(ENVELOPE_KEY) + 2 + 1 + len('{"v":1,"vars":{}}') + 1
LOG_OVERHEAD = len(STRUCTLOG_KEY) + 2 + 1 + 2 + 1
#: Per entry: two quotes around the key, a colon and a comma.
ENTRY_OVERHEAD = 4
#: The two quotes around a JSON string.
QUOTES = 2
#: Most bytes one character of a string takes in ASCII-escaped JSON: a code
#: point beyond the BMP is written as a surrogate pair, ``\ud83d\ude00``.
MAX_ESCAPED_CHAR = 12
#: Most bytes one printable ASCII character takes: ``\"`` and ``\\`` are two.
MAX_ESCAPED_PRINTABLE = 2
#: Bound of a scalar that needs no measuring, or of a string's quotes: an
#: exact integer (at most 17 characters with its sign), ``false``, ``null``.
SCALAR_BOUND = 24


def upper_bound(trace: Sequence[Entry], queuevars: Sequence[Entry], log: Sequence[Entry]) -> int:
    """An upper bound (within a few bytes) of the JSON object inject writes."""
    total = 2
    for key, _, size in trace:
        total += len(key) + size + ENTRY_OVERHEAD
    if queuevars or log:
        total += ENVELOPE_OVERHEAD
        for key, _, size in queuevars:
            total += len(key) + size + ENTRY_OVERHEAD
        if log:
            total += LOG_OVERHEAD
            for key, _, size in log:
                total += len(key) + size + ENTRY_OVERHEAD
    return total


def fit(
    trace: Sequence[Entry], queuevars: Sequence[Entry], log: Sequence[Entry], max_bytes: int
) -> Fitted:
    """Keep what fits in ``max_bytes`` in priority order; report the rest."""
    used = 2
    kept_trace: list[Entry] = []
    kept_vars: list[Entry] = []
    kept_log: list[Entry] = []
    dropped: list[tuple[str, Entry]] = []
    for entry in trace:
        cost = len(entry[0]) + entry[2] + ENTRY_OVERHEAD
        if used + cost <= max_bytes:
            used += cost
            kept_trace.append(entry)
        else:
            dropped.append(("trace field", entry))
    envelope_counted = log_counted = False
    for group, entries, kept in (
        ("QueueVar", queuevars, kept_vars),
        ("structlog key", log, kept_log),
    ):
        is_log = kept is kept_log
        for entry in sorted(entries, key=lambda e: e[2]):
            cost = len(entry[0]) + entry[2] + ENTRY_OVERHEAD
            if not envelope_counted:
                cost += ENVELOPE_OVERHEAD
            if is_log and not log_counted:
                cost += LOG_OVERHEAD
            if used + cost <= max_bytes:
                used += cost
                kept.append(entry)
                envelope_counted = True
                log_counted = log_counted or is_log
            else:
                dropped.append((group, entry))
    return Fitted(kept_trace, kept_vars, kept_log, dropped)
