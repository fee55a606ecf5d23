"""The adapter's one installation in this process.

Hooks read :data:`current` at call time: ``None`` when the adapter is not
installed (a hook someone else kept then does nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ctxcarry.kit import Installation

__all__ = ["State", "active", "current"]


@dataclass
class State:
    """What ``install()`` chose: the Carrier and whether the task identity is bound."""

    installation: Installation
    bind_identity: bool = True
    #: Backends whose tasks run inline, in the caller's context (ImmediateBackend).
    inline_backends: tuple[type[Any], ...] = ()


#: The installation every hook uses, or ``None``.
current: State | None = None


def active() -> State | None:
    """The current state if the adapter is installed and active."""
    state = current
    if state is None or not state.installation.active:
        return None
    return state
