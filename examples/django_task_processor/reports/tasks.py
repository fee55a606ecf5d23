"""Task handlers: the processor runs them with the context of the request that enqueued them.

``manage.py start task-processor`` imports every installed app's ``tasks``
module, which registers these handlers.
"""

from __future__ import annotations

import structlog
from task_processor.decorators import register_task_handler

log = structlog.get_logger("reports.tasks")


@register_task_handler()
def build_report(report_id: str) -> None:
    log.info("building report", report_id=report_id)
    send_report.delay(args=(report_id,))  # the next task carries the same context


@register_task_handler()
def send_report(report_id: str) -> None:
    log.info("sending report", report_id=report_id)


@register_task_handler()
def export_report(report_id: str) -> None:
    """Fails: the processor's own "Failed to execute task" line carries the context too."""
    raise RuntimeError(f"export of report {report_id} failed")
