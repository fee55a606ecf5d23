"""QueueVars shared by the core tests (registered once per process, by name)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from ctxcarry import QueueVar, codecs


class Plan(enum.Enum):
    FREE = "free"
    PRO = "pro"


tenant_id: QueueVar[str | None] = QueueVar("core_tenant_id", default=None)
org_id: QueueVar[int | None] = QueueVar("core_org_id", default=None, codec=codecs.typed(int))
region: QueueVar[str] = QueueVar("core_region", default="eu-west")
payload: QueueVar[Any] = QueueVar("core_payload", default=None)
request_uuid: QueueVar[uuid.UUID | None] = QueueVar(
    "core_request_uuid", default=None, codec=codecs.UUIDCodec()
)
deadline: QueueVar[dt.datetime | None] = QueueVar(
    "core_deadline", default=None, codec=codecs.DateTimeCodec()
)
day: QueueVar[dt.date | None] = QueueVar("core_day", default=None, codec=codecs.DateCodec())
amount: QueueVar[decimal.Decimal | None] = QueueVar(
    "core_amount", default=None, codec=codecs.DecimalCodec()
)
plan: QueueVar[Plan | None] = QueueVar("core_plan", default=None, codec=codecs.EnumCodec(Plan))


class LookupCodec:
    """A user codec whose decode raises ``KeyError`` for an unknown name (a common bug)."""

    def encode(self, value: int) -> str:
        return {1: "gold", 2: "silver"}[value]

    def decode(self, data: Any) -> int:
        return {"gold": 1, "silver": 2}[data]


tier: QueueVar[int | None] = QueueVar("core_tier", default=None, codec=LookupCodec())


class Unprintable(Exception):
    """An exception whose ``__str__`` itself fails."""

    def __str__(self) -> str:
        raise RuntimeError("cannot print")


class BrokenCodec:
    """A user codec that refuses everything with an :class:`Unprintable` error."""

    def encode(self, value: str) -> str:
        return value

    def decode(self, data: Any) -> str:
        raise Unprintable


broken: QueueVar[str | None] = QueueVar("core_broken_codec", default=None, codec=BrokenCodec())
