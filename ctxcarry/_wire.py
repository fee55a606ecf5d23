"""The wire format's fixed names: one place, so every module agrees.

See ``docs/wire-format.md`` for the full specification.
"""

from __future__ import annotations

__all__ = [
    "ENVELOPE_KEY",
    "FORMAT_VERSION",
    "MODULES_KEY",
    "STRUCTLOG_KEY",
    "VARS_KEY",
    "VERSION_KEY",
]

#: Top-level key holding the structlog contextvars (the shape Flagsmith proposed
#: for ``Task.trace_context``).
STRUCTLOG_KEY = "structlog_context"

#: Top-level key of ctxcarry's own envelope: ``{"v": 1, "vars": {...}}``.
ENVELOPE_KEY = "ctxcarry"

#: Envelope key holding the format version (a positive integer).
VERSION_KEY = "v"

#: Envelope key holding the QueueVars, by name.
VARS_KEY = "vars"

#: Optional envelope key: the module that defines each carried QueueVar, by
#: name (a hint for a worker that has not imported it; consumers may ignore it).
MODULES_KEY = "modules"

#: The format version this library writes and fully understands.
FORMAT_VERSION = 1
