"""Where the RQ adapter keeps the carrier: one key of ``job.meta``.

``job.meta`` is its own field of the job's Redis hash, serialised with the
queue's serializer (pickle by default, or JSON), and every worker loads it
with any job class: a worker without the adapter simply never reads the key.
The adapter owns exactly one key, :data:`META_KEY`; the trace keys other
libraries keep in ``meta`` (opentelemetry-instrumentation-rq's top-level
``traceparent``, sentry-sdk's ``_sentry_trace_headers``) are never read or
written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["META_KEY", "PARENT_FIELD", "parent_job_id", "read_carrier"]

#: The ``job.meta`` key that holds the carrier (the dict ``Carrier.inject`` writes).
META_KEY = "ctxcarry"

#: A top-level field of the carrier: the id of the job that enqueued this one.
#: Consumers of the wire format ignore top-level keys they do not know.
PARENT_FIELD = "rq_parent_job_id"

_MAX_ID_LENGTH = 128
_logger = logging.getLogger("ctxcarry")


def read_carrier(job: Any) -> object:
    """The carrier stored in ``job.meta``, or ``None``.

    ``meta`` is untrusted: it may be anything its serializer can load (rq
    itself replaces a field it cannot load with ``{"unserialized": ...}``).
    """
    meta = job.meta
    if type(meta) is dict or isinstance(meta, Mapping):
        return meta.get(META_KEY)
    return None


def parent_job_id(raw: object) -> str | None:
    """The parent job id a carrier names, if it is a short printable string.

    Anything else is dropped with one warning (which never shows the value).
    """
    if type(raw) is not dict:
        return None
    value = raw.get(PARENT_FIELD)
    if value is None:
        return None
    if type(value) is str and 0 < len(value) <= _MAX_ID_LENGTH and value.isprintable():
        return value
    _logger.warning(
        "ctxcarry.extract (rq) dropped 1 item(s): %r is not a job id (a printable string "
        "of at most %d characters)",
        PARENT_FIELD,
        _MAX_ID_LENGTH,
    )
    return None
