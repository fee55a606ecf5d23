"""The task processor adapter's one installation in this process.

``install(carrier=...)`` configures it; until a Carrier is given (and after
``uninstall()``) the adapter follows :func:`ctxcarry.get_default_carrier` at
every enqueue and run, so ``set_default_carrier`` keeps working for users who
never pass one. Hooks read :data:`installation` at call time.
"""

from __future__ import annotations

from ctxcarry.kit import Installation

__all__ = ["installation", "reset"]

#: The installation every hook uses (replaced by :func:`reset`).
installation = Installation()


def reset() -> None:
    """Forget the chosen Carrier (``uninstall``)."""
    global installation
    installation.active = False
    installation = Installation()
