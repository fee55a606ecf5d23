"""The worst carriers for decode's cost, as JSON text: shared by tests and benchmarks.

Each is what a hostile producer can put on a queue. ``Carrier.decode`` of the
parsed text must cost at most a small multiple of ``json.loads`` of the text
(the budget, not the carrier's size, bounds the checking work). Benchmarks
import :func:`hostile_carriers` and time ``decode(json.loads(text))`` against
``json.loads(text)``; the tests only check the outcome, never a time.
"""

from __future__ import annotations

import json
from typing import Any

from ctxcarry import DEFAULT_MAX_BYTES, DEFAULT_MAX_KEYS

__all__ = ["hostile_carriers"]

_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _log(values: Any) -> dict[str, Any]:
    return {"traceparent": _TRACEPARENT, "structlog_context": values}


def _vars(values: Any) -> dict[str, Any]:
    return {"ctxcarry": {"v": 1, "vars": values}}


def hostile_carriers(
    max_bytes: int = DEFAULT_MAX_BYTES, max_keys: int = DEFAULT_MAX_KEYS
) -> dict[str, str]:
    """Name -> carrier JSON text, each built to make decode work hard for ``max_bytes``."""
    keys = [f"k{i}" for i in range(max_keys)]
    # A list of zeros is the cheapest JSON per element to parse and the
    # dearest to check: one Python step per two bytes of text.
    fits_alone = max_bytes // 3  # each value fits alone; together they overflow
    just_over = max_bytes // 2 + 1  # each value alone is just over the budget
    deep: Any = 0
    while len(json.dumps(deep)) * 2 < max_bytes:  # a full binary tree just over the budget
        deep = [deep, deep]
    cases: dict[str, Any] = {
        # Issue 10 item 7: 64 values each fitting the whole budget alone.
        "64 lists of zeros, each fits alone": _log({k: [0] * fits_alone for k in keys}),
        "64 lists of zeros, each just over": _log({k: [0] * just_over for k in keys}),
        "64 lists of floats": _log({k: [0.1] * (max_bytes // 8) for k in keys}),
        "64 wide objects": _log({k: {f"a{j}": 0 for j in range(max_bytes // 6)} for k in keys}),
        "64 lists of short strings": _log({k: ["é"] * (max_bytes // 4) for k in keys}),
        "64 long strings": _log(dict.fromkeys(keys, "x" * max_bytes)),
        "64 long non-ASCII strings": _log(
            dict.fromkeys(keys, "\u00e9\U0001f600" * (max_bytes // 16))
        ),
        "64 nested lists of zeros": _log({k: [[0] * 8] * (max_bytes // 16) for k in keys}),
        "a full binary tree": _log({"tree": deep}),
        "one list of zeros that fits": _log({"zeros": [0] * (max_bytes // 2 - 100)}),
        "one list of pairs that fits": _log({"pairs": [[0, 0]] * (max_bytes // 6 - 50)}),
        "one object of zeros that fits": _log(
            {"obj": {f"{j:x}": 0 for j in range(max_bytes // 8 - 100)}}
        ),
        "64 unknown QueueVars of zeros": _vars({f"unknown_{k}": [0] * fits_alone for k in keys}),
        "100,000 structlog keys": _log({f"key{i}": 0 for i in range(100_000)}),
    }
    return {name: json.dumps(carrier, separators=(",", ":")) for name, carrier in cases.items()}
