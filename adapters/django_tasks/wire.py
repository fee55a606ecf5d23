"""The one key the adapter owns in each backend's storage, and how it is read."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CARRIER_KEY", "read_carrier"]

#: The key holding the carrier (the dict ``Carrier.inject`` writes): a top-level
#: key of ``DBTaskResult.args_kwargs`` and a key of an rq job's ``meta``. It is
#: rewritten at every enqueue, never copied from anywhere.
CARRIER_KEY = "ctxcarry"


def read_carrier(storage: object) -> object:
    """The carrier kept in ``storage`` (a row's ``args_kwargs``, a job's ``meta``), or ``None``.

    Anything that is not a mapping (a hostile row, a foreign meta) holds none.
    """
    if not isinstance(storage, Mapping):
        return None
    try:
        return storage.get(CARRIER_KEY)
    except Exception:  # a hostile Mapping
        return None
