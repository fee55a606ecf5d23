"""A SpawnWorker whose work horse installs the adapter.

rq's ``SpawnWorker`` starts every work horse as a new interpreter
(``posix_spawn``), not a fork: nothing the worker process set up is there,
only the modules of the classes rq pickles for it (the worker, job and queue
classes). On rq 3 the horse is rebuilt from those classes, so this class's
``main_work_horse`` runs there and installs the adapter (with the default
Carrier, or what the modules the horse imports configured) before the job.

rq 2.x builds a plain ``rq.Worker`` and ``rq.job.Job`` in the horse: a
worker class is silently ignored there, so nothing is restored. This class
says so with a warning when it starts on rq 2.x.
"""

from __future__ import annotations

import logging
from typing import Any

import rq
import rq.worker

from .installation import install

__all__ = ["SpawnWorker"]

_logger = logging.getLogger("ctxcarry")


def _rq_major() -> int:
    try:
        return int(str(rq.__version__).split(".", 1)[0])
    except Exception:
        return 0


class SpawnWorker(rq.worker.SpawnWorker):
    """``rq.worker.SpawnWorker`` whose horse runs ``ctxcarry.adapters.rq.install()``.

    Use it as ``rq worker -w ctxcarry.adapters.rq.SpawnWorker``. A Carrier
    other than the default must be set up in a module the horse imports: the
    module of your own subclass of this class (see the docs).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _rq_major() < 3:
            _logger.warning(
                "ctxcarry: rq %s's SpawnWorker ignores worker classes in its work horse; "
                "jobs run there without their context (use rq >= 3, or Worker/SimpleWorker)",
                rq.__version__,
            )

    def main_work_horse(self, job: Any, queue: Any) -> None:
        """Install the adapter in this new interpreter, then run the job as rq does."""
        try:
            install()
        except Exception:
            _logger.exception("ctxcarry: install() in the rq work horse failed; the job goes on")
        super().main_work_horse(job, queue)
