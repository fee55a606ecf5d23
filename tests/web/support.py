"""What the web tests share: a tenant QueueVar, structlog capture, response checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from ctxcarry import QueueVar

#: The tenant of a request, carried to tasks (one registration per process).
web_tenant: QueueVar[str | None] = QueueVar("web_tenant", default=None)

#: A second QueueVar that only the tests' outer code sets (never a request).
web_outer: QueueVar[str | None] = QueueVar("web_outer", default=None)


def tenant_bindings(headers: Mapping[str, str]) -> dict[object, object] | None:
    """A bind hook body: structlog ``tenant`` and the ``web_tenant`` QueueVar from a header."""
    tenant = headers.get("x-tenant")
    if tenant is None:
        return None
    return {"tenant": tenant, web_tenant: tenant}


def visible_context() -> dict[str, Any]:
    """The structlog contextvars, with values JSON cannot hold shown as their type."""
    return {
        key: value
        if isinstance(value, (str, int, float, bool, type(None)))
        else f"<{type(value).__name__}>"
        for key, value in structlog.contextvars.get_contextvars().items()
    }


class LogCapture:
    """Every structlog event, with the contextvars merged in, as plain dicts."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, logger: object, method: str, event: MutableMapping[str, Any]) -> Any:
        with self._lock:
            self.events.append(dict(event))
        raise structlog.DropEvent

    def named(self, name: str) -> list[dict[str, Any]]:
        """The events whose message is ``name``."""
        return [event for event in self.events if event.get("event") == name]


@contextmanager
def capturing_logs() -> Iterator[LogCapture]:
    """Configure structlog to merge contextvars and capture; restore the old config after."""
    previous = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        cache_logger_on_first_use=False,
    )
    try:
        yield capture
    finally:
        structlog.configure(**previous)
