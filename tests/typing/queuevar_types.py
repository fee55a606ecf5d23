"""The documented QueueVar idioms, with the types a checker must infer for them.

Checked, never run, by tests/test_typing.py: ``mypy --strict`` and pyright (strict)
must report nothing here. Each ``assert_type`` states the type a user gets.
"""

# pyright: strict

from __future__ import annotations

import datetime
import decimal
import enum
import uuid

from typing_extensions import assert_type

import ctxcarry
from ctxcarry import QueueVar, codecs

# default=None and no codec: a string (or None), as README.md and every adapter page use it.
tenant = QueueVar("typing_tenant", default=None)
assert_type(tenant, QueueVar[str | None])
assert_type(tenant.get(), str | None)
assert_type(tenant.get("none"), str | None)
token = tenant.set("acme")
tenant.reset(token)
tenant.set(None)
tenant.clear()
with tenant("acme") as bound:
    assert_type(bound, str | None)
assert_type(tenant.is_set(), bool)
assert_type(tenant.name, str)
assert_type(tenant.default, str | None)

# An annotation states another type; the var is then exactly what it says.
annotated: QueueVar[str | None] = QueueVar("typing_annotated", default=None)
user_id: QueueVar[int | None] = QueueVar("typing_user_id", default=None)
user_id.set(42)
assert_type(user_id.get(), int | None)
labels: QueueVar[list[str] | None] = QueueVar("typing_labels", default=None)
labels.set(["a", "b"])

# A codec gives its type: default=None adds None.
organisation_id = QueueVar("typing_org", default=None, codec=codecs.typed(int))
assert_type(organisation_id, QueueVar[int | None])
assert_type(organisation_id.get(), int | None)
with organisation_id(42):
    pass
either = QueueVar("typing_either", default=None, codec=codecs.typed(int, str))
assert_type(either, QueueVar[int | str | None])
request_uuid = QueueVar("typing_uuid", default=None, codec=codecs.UUIDCodec())
assert_type(request_uuid.get(), uuid.UUID | None)
request_uuid.set(uuid.uuid4())
since = QueueVar("typing_since", default=None, codec=codecs.DateTimeCodec())
assert_type(since.get(), datetime.datetime | None)
day = QueueVar("typing_day", default=None, codec=codecs.DateCodec())
assert_type(day.get(), datetime.date | None)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


colour = QueueVar("typing_colour", default=None, codec=codecs.EnumCodec(Colour))
assert_type(colour.get(), Colour | None)
colour.set(Colour.RED)

# A default that is not None gives the type, with or without a codec.
plan = QueueVar("typing_plan", default="free")
assert_type(plan, QueueVar[str])
attempts = QueueVar("typing_attempts", default=0)
assert_type(attempts, QueueVar[int])
level = QueueVar("typing_level", default=5, codec=codecs.IntRangeCodec(0, 9))
assert_type(level, QueueVar[int])
budget = QueueVar("typing_budget", default=decimal.Decimal("0"), codec=codecs.DecimalCodec())
assert_type(budget.get(), decimal.Decimal)

# The built-in var.
assert_type(ctxcarry.priority, QueueVar[int | None])


def current_tenant(var: QueueVar[str | None]) -> str:
    """A QueueVar passes where its annotated type is expected."""
    return var.get() or "none"


current_tenant(tenant)
current_tenant(annotated)

# An annotation of several types.
account_id: QueueVar[int | str | None] = QueueVar("typing_account_id", default=None)
account_id.set(10)
account_id.set("10")
