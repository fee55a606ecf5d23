"""Deprecated: the public home of these names is :mod:`ctxcarry.kit`.

Kept so that imports written against earlier releases keep working; importing
this module warns once.
"""

from __future__ import annotations

import warnings

from ._request_id import *  # noqa: F403
from ._request_id import __all__  # noqa: F401

warnings.warn(
    "ctxcarry.request_id is internal; import these names from ctxcarry.kit",
    DeprecationWarning,
    stacklevel=2,
)
