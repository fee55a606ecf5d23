"""Which structlog keys a Carrier carries: its allowlist and its denylist.

A process-level key bound as a contextvar (``service="api"``, ``side="web"``)
would travel with every task and replace the worker's own value for the task's
duration. ``Carrier(structlog_keys=...)`` (only these travel) and
``Carrier(structlog_exclude=...)`` (these never travel) choose what does. The
same selection applies where a carrier is written (an unwanted key is never
packed) and where it is read (a worker keeps its own keys whatever a producer,
of any version or configuration, sent). A key left out this way is
configuration, not a problem: no warning, nothing in ``dropped``.

The task-identity keys (``_logvars.LOCAL_KEYS``) are not part of this: no
Carrier ever carries them, whatever its lists say.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ._names import is_valid_key

__all__ = ["KeySelection", "key_names", "selection_for"]


class KeySelection:
    """A compiled allowlist/denylist: ``keeps(key)`` is one set lookup.

    ``names`` are the keys that travel (``keep_listed``), or the keys that do
    not (``not keep_listed``).
    """

    __slots__ = ("keep_listed", "names")

    def __init__(self, names: frozenset[str], *, keep_listed: bool) -> None:
        self.names = names
        self.keep_listed = keep_listed

    def keeps(self, key: str) -> bool:
        """True when the structlog key ``key`` may travel."""
        return (key in self.names) is self.keep_listed

    def drop_unselected(self, log: dict[str, Any]) -> None:
        """Remove from ``log`` (keys of type ``str``) every key that may not travel."""
        for key in [key for key in log if not self.keeps(key)]:
            del log[key]


def key_names(value: object, setting: str) -> frozenset[str]:
    """``value`` as a frozenset of key names, or a clear ``TypeError``/``ValueError``.

    A single ``str`` is refused rather than read as a collection of letters.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{setting} needs a collection of key names, not a single {type(value).__name__}: "
            f"write {setting}={{{value!r}}}"
        )
    if not isinstance(value, Collection):
        raise TypeError(
            f"{setting} needs a collection of key names (a set, list or tuple of str), "
            f"not {type(value).__name__}"
        )
    names = frozenset(value)
    for name in names:
        if type(name) is not str:
            raise TypeError(f"{setting}: key names must be str, not {type(name).__name__}")
        if not is_valid_key(name):
            raise ValueError(f"{setting}: {name[:80]!r} is not a key name that can travel")
    return names


def selection_for(keys: frozenset[str] | None, exclude: frozenset[str]) -> KeySelection | None:
    """The selection the two settings make, or ``None`` when every key travels."""
    if keys is not None:
        return KeySelection(keys - exclude, keep_listed=True)
    if exclude:
        return KeySelection(exclude, keep_listed=False)
    return None
