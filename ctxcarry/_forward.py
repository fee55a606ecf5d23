"""Carried QueueVars this process has not registered: forwarded, with a module hint.

A worker that has not imported the module defining a QueueVar cannot restore
it, but it must not lose it either: the tasks it enqueues forward the value
unchanged. ``extract`` sets :data:`forwarded` for its block (through its
scope's tokens, so it is undone exactly at exit) only when the carrier held
such vars; ``inject`` reads it with one ``ContextVar.get``.

The producer names the module that defines each carried QueueVar in the
envelope's optional ``modules`` field (see ``docs/wire-format.md``), so the
worker's warning can say which module to import. A hint read from a carrier is
untrusted: it is used only if it is a dotted Python name of bounded length.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Mapping
from typing import Any

from ._budget import ENTRY_OVERHEAD, QUOTES
from ._jsonvalue import JSONValue, copy_json
from ._problems import safe_name
from ._queuevar import BACKING_PREFIX, CLEARED, lookup
from ._wire import MODULES_KEY

__all__ = [
    "MAX_MODULE_LENGTH",
    "Forwarded",
    "add_forwarded",
    "forwarded",
    "last_hints",
    "is_module_name",
    "module_hint",
    "module_hints",
    "unregistered_line",
]

#: Longest module hint read from a carrier or written into one.
MAX_MODULE_LENGTH = 200
_MODULE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")

#: What a carrier held for one unregistered QueueVar: its wire value (checked
#: against the wire rule), that value's exact JSON size, and its module hint.
Forwarded = tuple[JSONValue, int, "str | None"]

#: The unregistered QueueVars the current extract block forwards, by name
#: (``CLEARED`` when there are none). Its name has the QueueVars' backing
#: prefix, so every scope restores it like a QueueVar; it is not a valid
#: QueueVar name, so it never collides with one.
forwarded: contextvars.ContextVar[Any] = contextvars.ContextVar(
    BACKING_PREFIX + ":forwarded", default=CLEARED
)

#: ``"modules":{}`` plus a comma.
_MODULES_OVERHEAD = len(MODULES_KEY) + QUOTES + 1 + 2 + 1
#: ``modules`` fields (and their sizes) by the tuple of QueueVar names inject carries (bounded).
_hint_cache: dict[tuple[str, ...], tuple[dict[str, str], int]] = {}
_HINT_CACHE_LIMIT = 1024
#: One item: the names of the QueueVars the last inject carried (none forwarded) and
#: their ``modules`` field with its size. inject uses it again while the same vars
#: travel; it is read and replaced as one tuple, so threads never mix two.
last_hints: list[tuple[frozenset[str], tuple[dict[str, str], int]]] = [(frozenset(), ({}, 0))]


def is_module_name(value: object) -> bool:
    """True for a dotted Python name of ASCII identifiers, at most 200 characters."""
    return (
        type(value) is str
        and len(value) <= MAX_MODULE_LENGTH
        and _MODULE_PATTERN.fullmatch(value) is not None
    )


def _producer_hint(name: str) -> str | None:
    """The hint a carrier gives for the registered var ``name``, if any worth sending.

    None for ``__main__`` (a worker cannot import the producer's script) and
    for ctxcarry's own vars (registered in every process).
    """
    var = lookup(name)
    if var is None:
        return None
    module = var._origin[0]
    if module == "__main__" or module.split(".")[0] == "ctxcarry" or not is_module_name(module):
        return None
    return module


def module_hints(queuevars: Mapping[str, Any], carried: Any) -> tuple[dict[str, str], int]:
    """The ``modules`` field for inject's QueueVar section, and its exact JSON size.

    Registered vars give their own module; forwarded ones (``carried``, the
    mapping :data:`forwarded` holds, or ``CLEARED``) the hint they arrived
    with. Without forwarded vars the result is cached by the names carried
    and becomes :data:`last_hints`: a var's module never changes once it is
    registered. The dict is shared: copy it before it leaves ctxcarry.
    """
    if carried is not CLEARED:
        return _module_hints(queuevars, carried)
    key = tuple(queuevars)
    entry = _hint_cache.get(key)
    if entry is None:
        entry = _module_hints(queuevars, carried)
        if len(_hint_cache) < _HINT_CACHE_LIMIT:
            _hint_cache[key] = entry
    last_hints[0] = (frozenset(key), entry)
    return entry


def _module_hints(queuevars: Mapping[str, Any], carried: Any) -> tuple[dict[str, str], int]:
    hints: dict[str, str] = {}
    for name in queuevars:
        module = _producer_hint(name)
        if module is None and carried is not CLEARED and name in carried:
            module = carried[name][2]
        if module is not None:
            hints[name] = module
    return hints, _size(hints)


def _size(hints: Mapping[str, str]) -> int:
    """Exact JSON size of a ``modules`` field (names and hints need no escaping); 0 if empty."""
    if not hints:
        return 0
    return _MODULES_OVERHEAD + sum(
        len(name) + len(module) + QUOTES + ENTRY_OVERHEAD for name, module in hints.items()
    )


def add_forwarded(carried: Mapping[str, Forwarded], queuevars: dict[str, Any]) -> int:
    """Add the forwarded values to inject's QueueVar section; return their size bound.

    A var registered since (and so absent from, or set in, ``queuevars``) wins
    over the forwarded value.
    """
    bound = 0
    for name, (wire, size, _) in carried.items():
        if name in queuevars or lookup(name) is not None:
            continue
        if type(wire) is dict or type(wire) is list:
            wire = copy_json(wire)
        queuevars[name] = wire
        bound += len(name) + size + ENTRY_OVERHEAD
    return bound


def module_hint(envelope: Any, name: str) -> str | None:
    """The valid module hint an untrusted envelope gives for ``name``, else ``None``."""
    try:
        hints = envelope.get(MODULES_KEY)
        if type(hints) is not dict:
            return None
        module = hints.get(name)
    except Exception:  # a hostile Mapping: no hint
        return None
    return module if is_module_name(module) else None


def unregistered_line(name: str, module: str | None, refused: str | None) -> str:
    """The warning line for a carried QueueVar this process has not registered.

    ``refused`` says why its value cannot be forwarded (``None``: it is).
    """
    if module is not None:
        where = f" (defined in {module} where the task was enqueued)"
        fix = (
            f'import that module in the worker, e.g. install(queuevars=["{module}"]) '
            'or CTXCARRY["QUEUEVARS"]'
        )
    else:
        where = ""
        fix = (
            "import the module that defines it in the worker, e.g. with "
            'install(queuevars=[...]) or CTXCARRY["QUEUEVARS"]'
        )
    outcome = (
        "its value is forwarded unchanged to tasks enqueued here"
        if refused is None
        else f"its value is dropped ({refused})"
    )
    return f"QueueVar {safe_name(name)} is not registered in this process{where}: {fix}; {outcome}"
