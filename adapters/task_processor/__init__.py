"""Flagsmith task processor adapter (see docs/adapters/task-processor.md).

Add ``"ctxcarry.adapters.task_processor"`` to ``INSTALLED_APPS`` after
``"task_processor"``, or call :func:`install` yourself once Django is set up.
A task enqueued with ``.delay()`` then carries the caller's QueueVars,
structlog contextvars and trace context, and its function runs with them.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall

__all__ = ["install", "is_installed", "uninstall"]
