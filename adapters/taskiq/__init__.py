"""Taskiq adapter: every task runs in the context it was sent from.

Call ``install(broker)`` where the broker is created, in the module that both
the senders (web, scheduler) and ``taskiq worker`` import. It puts one
:class:`CtxcarryMiddleware` first in the broker's middlewares:

- ``pre_send`` writes the current context into one label, :data:`LABEL`
  (``"ctxcarry"``), as a JSON string, so it survives ``.with_labels()`` and the
  retry middlewares' re-kick (Taskiq turns non-scalar labels into a repr);
- ``pre_execute`` restores it in the asyncio task that runs the message and
  binds ``task_id``/``task_name``; ``post_execute`` undoes it exactly.

Scheduled sends skip ``pre_send``: wrap the kicker in :func:`with_context`.
See ``docs/adapters/taskiq.md``.
"""

from __future__ import annotations

from .installation import install, is_installed, uninstall
from .kicker import with_context
from .middleware import CtxcarryMiddleware
from .wire import AMQP_LABEL_LIMIT, LABEL

__all__ = [
    "AMQP_LABEL_LIMIT",
    "LABEL",
    "CtxcarryMiddleware",
    "install",
    "is_installed",
    "uninstall",
    "with_context",
]
