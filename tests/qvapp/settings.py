"""The test settings plus an app with a ``queuevars`` module (for subprocess tests)."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.qvapp"]
CTXCARRY = {"QUEUEVARS": ["tests.qvapp.context"]}
