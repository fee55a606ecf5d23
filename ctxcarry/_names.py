"""Key names: what a QueueVar or structlog key may be called, and how many may exist.

structlog keeps one ``ContextVar`` per distinct key name for the life of the
process. Binding names taken unfiltered from a message would let any producer
grow a worker's memory without bound, so every name read from a carrier must
match :data:`KEY_PATTERN`, and the number of *new* names extract may ever create
in a process is capped (:class:`NameAllowance`).
"""

from __future__ import annotations

import re
import threading

import structlog.contextvars

__all__ = [
    "KEY_PATTERN",
    "MAX_KEY_LENGTH",
    "NameAllowance",
    "is_valid_key",
    "known_valid_names",
    "name_allowance",
]

#: Longest accepted key name.
MAX_KEY_LENGTH = 64

#: A key name: ASCII letter or underscore first, then letters, digits, ``_ . -``.
KEY_PATTERN = re.compile(rf"[A-Za-z_][A-Za-z0-9_.\-]{{0,{MAX_KEY_LENGTH - 1}}}")

#: Names already found valid (a bounded cache: membership is the fast path).
known_valid_names: set[str] = set()
_VALID_CACHE_LIMIT = 4096


def is_valid_key(name: object) -> bool:
    """True when ``name`` is a ``str`` matching :data:`KEY_PATTERN`."""
    if type(name) is not str:
        return False
    if name in known_valid_names:
        return True
    if len(name) > MAX_KEY_LENGTH or KEY_PATTERN.fullmatch(name) is None:
        return False
    if len(known_valid_names) < _VALID_CACHE_LIMIT:
        known_valid_names.add(name)
    return True


class NameAllowance:
    """Counts the structlog key names that extract created in this process.

    A name structlog already knows costs nothing and is always allowed. A new
    name is allowed while fewer than ``limit`` new names have been admitted.
    Thread-safe; the count never goes down (structlog's registry never shrinks).
    """

    def __init__(self) -> None:
        self._admitted: set[str] = set()
        #: Every name known to be allowed (admitted or free): the lock-free fast path.
        self.known: set[str] = set()
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """How many new names have been admitted so far."""
        return len(self._admitted)

    def allow(self, name: str, limit: int) -> bool:
        """Admit ``name`` if it exists already or the process is under ``limit``."""
        if name in self.known:
            return True
        if _structlog_knows(name):  # structlog has its ContextVar already: it costs nothing
            self.known.add(name)
            return True
        with self._lock:
            if name in self._admitted:
                return True
            if len(self._admitted) >= limit:
                return False
            self._admitted.add(name)
            self.known.add(name)
            return True


def _structlog_knows(name: str) -> bool:
    # structlog's registry is private; if it ever moves we simply count every
    # name as new, which is the safe direction.
    registry = getattr(structlog.contextvars, "_CONTEXT_VARS", None)
    return registry is not None and (structlog.contextvars.STRUCTLOG_KEY_PREFIX + name) in registry


#: The process-wide allowance every :class:`~ctxcarry.Carrier` draws from.
name_allowance = NameAllowance()
