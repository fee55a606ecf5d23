"""A task-processor task for the end-to-end tests: logs one structlog line when it runs."""

from __future__ import annotations

import structlog
from task_processor.decorators import register_task_handler


@register_task_handler()
def web_e2e_log_note(note: str) -> None:
    """Log one line with whatever context the processor restored."""
    structlog.get_logger("web_e2e").info("task processor task ran", note=note)
