"""How ctxcarry reports what it had to drop: one warning, or an error in strict mode."""

from __future__ import annotations

import logging

__all__ = ["CarrierError", "Problems", "logger", "safe_name"]

#: The logger every ctxcarry warning goes to.
logger = logging.getLogger("ctxcarry")


class CarrierError(ValueError):
    """Raised instead of a warning when a :class:`~ctxcarry.Carrier` is strict.

    ``problems`` lists each dropped item and why, as in the warning.
    """

    def __init__(self, action: str, problems: list[str]) -> None:
        self.action = action
        self.problems = tuple(problems)
        super().__init__(f"{action}: {'; '.join(problems)}")


def safe_name(name: object, limit: int = 40) -> str:
    """Render an untrusted name for a log line: ASCII-escaped, quoted, truncated."""
    if not isinstance(name, str):
        return f"<{type(name).__name__}>"
    text = ascii(name[:limit])
    return text + "..." if len(name) > limit else text


class Problems(list[str]):
    """Collects what one inject or extract dropped, then reports it once."""

    __slots__ = ()

    def add(self, message: str) -> None:
        """Record one dropped item and the reason."""
        self.append(message)

    def raise_if_strict(self, action: str, strict: bool) -> None:
        """In strict mode, turn the collected problems into a :class:`CarrierError`."""
        if strict and self:
            raise CarrierError(action, list(self))

    def warn(self, action: str) -> None:
        """Log one WARNING naming every dropped or changed item."""
        if self:
            logger.warning(
                "%s dropped or changed %d item(s): %s", action, len(self), "; ".join(self)
            )
