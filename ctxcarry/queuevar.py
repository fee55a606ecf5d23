"""Deprecated: internal since QueueVar moved to :mod:`ctxcarry` (``from ctxcarry import QueueVar``).

Kept so that imports written against earlier releases keep working; importing
this module warns once, and ``registry_by_name`` warns again on use.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import _queuevar
from ._queuevar import *  # noqa: F403
from ._queuevar import __all__  # noqa: F401

warnings.warn(
    "ctxcarry.queuevar is internal; import QueueVar and friends from ctxcarry "
    "(and ctxcarry.kit for adapters)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_queuevar, name)
