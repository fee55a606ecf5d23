"""The size budget: which entries of a carrier fit in ``max_bytes`` of JSON.

Sizes are exact JSON sizes (see :mod:`ctxcarry.jsonvalue`). When everything
fits, nothing is dropped. When it does not, entries are kept in priority order
-- trace fields first (traceparent, tracestate, baggage), then QueueVars, then
structlog keys, smallest first within each group -- and what does not fit is
dropped. The accounting over-counts a few bytes of punctuation, never under.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .jsonvalue import JSONValue, string_size
from .wire import ENVELOPE_KEY, STRUCTLOG_KEY

__all__ = ["Entry", "Fitted", "carrier_size", "fit"]


class Entry(NamedTuple):
    """One key of a carrier section with its JSON value and that value's size."""

    key: str
    value: JSONValue
    size: int


class Fitted(NamedTuple):
    """The entries that fit, per section, and those dropped (with their group)."""

    trace: list[Entry]
    queuevars: list[Entry]
    log: list[Entry]
    dropped: list[tuple[str, Entry]]


def _object_size(entries: Sequence[Entry]) -> int:
    if not entries:
        return 2
    return 1 + sum(string_size(e.key) + 1 + e.size + 1 for e in entries)


# ``"ctxcarry":{"v":1,"vars":{}}`` plus a comma; ``"structlog_context":{}`` plus a comma.
_ENVELOPE_OVERHEAD = string_size(ENVELOPE_KEY) + 1 + len('{"v":1,"vars":{}}') + 1
_LOG_OVERHEAD = string_size(STRUCTLOG_KEY) + 1 + 2 + 1


def carrier_size(trace: Sequence[Entry], queuevars: Sequence[Entry], log: Sequence[Entry]) -> int:
    """Exact size of the JSON object inject would write for these entries."""
    top = list(trace)
    if log:
        top.append(Entry(STRUCTLOG_KEY, None, _object_size(log)))
    if queuevars or log:
        vars_size = _object_size(queuevars)
        # {"v":1,"vars":<vars>}
        top.append(Entry(ENVELOPE_KEY, None, len('{"v":1,"vars":}') + vars_size))
    return _object_size(top)


def fit(
    trace: Sequence[Entry], queuevars: Sequence[Entry], log: Sequence[Entry], max_bytes: int
) -> Fitted:
    """Keep what fits in ``max_bytes`` in priority order; report the rest."""
    used = 2
    kept_trace: list[Entry] = []
    kept_vars: list[Entry] = []
    kept_log: list[Entry] = []
    dropped: list[tuple[str, Entry]] = []
    envelope_counted = False
    log_counted = False
    for entry in trace:
        cost = string_size(entry.key) + 1 + entry.size + 1
        if used + cost <= max_bytes:
            used += cost
            kept_trace.append(entry)
        else:
            dropped.append(("trace field", entry))
    for group, entries, kept in (
        ("QueueVar", queuevars, kept_vars),
        ("structlog key", log, kept_log),
    ):
        for entry in sorted(entries, key=lambda e: e.size):
            cost = len(entry.key) + 2 + 1 + entry.size + 1
            if not envelope_counted:
                cost += _ENVELOPE_OVERHEAD
            if group == "structlog key" and not log_counted:
                cost += _LOG_OVERHEAD
            if used + cost <= max_bytes:
                used += cost
                kept.append(entry)
                envelope_counted = True
                log_counted = log_counted or group == "structlog key"
            else:
                dropped.append((group, entry))
    return Fitted(kept_trace, kept_vars, kept_log, dropped)
