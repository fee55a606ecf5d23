"""The one place that knows how structlog keeps its contextvars.

structlog keeps one ``ContextVar`` per key name, named
``STRUCTLOG_KEY_PREFIX + key``, created on the first bind and never removed;
a var holding ``Ellipsis`` is unbound. Everything in ctxcarry that reads or
sets structlog keys goes through this module: the prefix (structlog's own
constant, never restated), the key -> ContextVar cache, and the unbound marker.
"""

from __future__ import annotations

import contextvars
from typing import Any

import structlog.contextvars

__all__ = ["LOCAL_KEYS", "PREFIX", "UNBOUND", "cached", "is_log_var", "key_of", "var_for"]

#: The name prefix of every structlog ContextVar (structlog's own constant).
PREFIX: str = structlog.contextvars.STRUCTLOG_KEY_PREFIX
_PREFIX_LEN = len(PREFIX)

#: What an unbound structlog ContextVar holds.
UNBOUND: Any = Ellipsis

#: Keys bound for the running task's own identity (adapters bind them through
#: ``ctxcarry.kit.bind_task_identity``): inject never carries them, so a task's
#: id never becomes its children's.
LOCAL_KEYS = frozenset(("task_id", "task_name", "parent_task_id"))

#: structlog's ContextVar per key name, for the keys seen so far (``var_for`` fills it;
#: hot loops read it first). Bounded by what callers admit: extract only asks for
#: admitted names (see ``names``), the request scope for valid ones.
cached: dict[str, contextvars.ContextVar[Any]] = {}
_vars = cached
_CACHE_LIMIT = 8192


def var_for(key: str) -> contextvars.ContextVar[Any]:
    """structlog's ContextVar for ``key``, created through its public API if needed.

    Creating it binds ``None`` in a throw-away Context, so the caller's
    context never changes.
    """
    cvar = _vars.get(key)
    if cvar is None:
        cvar = contextvars.Context().run(_create, key)
        if len(_vars) < _CACHE_LIMIT:
            _vars[key] = cvar
    return cvar


def _create(key: str) -> contextvars.ContextVar[Any]:
    return structlog.contextvars.bind_contextvars(**{key: None})[key].var


def is_log_var(cvar: contextvars.ContextVar[Any]) -> bool:
    """True for a ContextVar structlog keeps for a key."""
    return cvar.name.startswith(PREFIX)


def key_of(cvar: contextvars.ContextVar[Any]) -> str | None:
    """The structlog key a ContextVar holds, or ``None`` for any other ContextVar."""
    name = cvar.name
    return name[_PREFIX_LEN:] if name.startswith(PREFIX) else None
