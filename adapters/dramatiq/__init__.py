"""Dramatiq adapter: every message of a broker runs in the context it was enqueued in.

Call ``install(broker)`` in the module that creates the broker, which both the
producing processes and the ``dramatiq`` workers import. It puts one
middleware first in the broker's list:

- ``before_enqueue`` stamps each message, at its first enqueue, with the
  current context in one message option, :data:`OPTION` (``"ctxcarry"``), and
  the id of the running message it was enqueued from, :data:`PARENT_OPTION`;
  retries and delayed messages keep their stamp;
- ``before_process_message`` restores it in the worker thread and binds the
  message's identity (``task_id``, ``task_name``, ``parent_task_id``);
- ``after_process_message`` / ``after_skip_message`` undo it exactly, after
  every other middleware's after hook, so the next message starts clean;
- the broker's actors are wrapped so that a direct call, ``my_actor(...)``,
  leaves its caller's context exactly intact.

See ``docs/adapters/dramatiq.md``.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall
from .middleware import ContextMiddleware
from .wire import OPTION, PARENT_OPTION

__all__ = ["OPTION", "PARENT_OPTION", "ContextMiddleware", "install", "is_installed", "uninstall"]
