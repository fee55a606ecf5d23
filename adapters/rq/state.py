"""The adapter's process-wide state: the installation, and the job running here.

``running_job`` is a ContextVar, so it follows the job into whatever thread
or process runs it (a forked work horse copies it; a SimpleWorker sets and
resets it around each job). It serves two purposes: a job enqueued while
another runs records that job as its parent, and a second wrapper around the
same ``perform_job`` call (see ``patches``) passes the call through.
"""

from __future__ import annotations

import contextvars
from typing import Any

from ctxcarry.kit import Installation

__all__ = ["STATE", "active_installation", "running_job"]


class _State:
    __slots__ = ("installation", "task_identity")

    def __init__(self) -> None:
        self.installation: Installation | None = None
        #: Bind task_id, task_name and parent_task_id around each job.
        self.task_identity = True


STATE = _State()

#: The rq Job whose scope is open in this context (``None`` outside a job).
running_job: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "ctxcarry_rq_running_job", default=None
)


def active_installation() -> Installation | None:
    """The installation, or ``None`` when the adapter is not installed."""
    installation = STATE.installation
    return installation if installation is not None and installation.active else None
