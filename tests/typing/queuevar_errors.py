"""Misuses of QueueVar that a type checker must report.

Checked, never run, by tests/test_typing.py: every line marked ``# error`` must get
an error from ``mypy --strict`` and from pyright, and no other line may get one (so
the types of queuevar_types.py are not merely ``Any``).
"""

# pyright: strict

from __future__ import annotations

from ctxcarry import QueueVar, codecs

tenant = QueueVar("typing_errors_tenant", default=None)
tenant.set(3)  # error
with tenant(3):  # error
    pass
name: str = tenant.get()  # error

organisation_id = QueueVar("typing_errors_org", default=None, codec=codecs.typed(int))
organisation_id.set("acme")  # error
count: int = organisation_id.get()  # error

attempts = QueueVar("typing_errors_attempts", default=0)
attempts.set(None)  # error
attempts.set("1")  # error

QueueVar("typing_errors_mismatch", default="x", codec=codecs.typed(int))  # error
# mypy trusts an annotation that leaves out None (see QueueVar.__init__); pyright does not.
not_none: QueueVar[int] = QueueVar("typing_errors_not_none", default=None)  # error: pyright only
