"""QueueVars for the CLI tests: a module ``ctxcarry inspect --import`` can load.

The test process imports it to inject; a fresh ``ctxcarry inspect`` process
knows these vars only if it is told to import this module.
"""

from __future__ import annotations

import uuid

from ctxcarry import QueueVar
from ctxcarry.codecs import UUIDCodec

cli_tenant: QueueVar[str | None] = QueueVar("cli_tenant", default=None)
cli_account: QueueVar[uuid.UUID | None] = QueueVar("cli_account", default=None, codec=UUIDCodec())
