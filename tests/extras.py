"""Which optional extras this environment has, and whether it could have them.

The test matrix (noxfile.py) runs the suite where an extra cannot be installed: the
task processor (flagsmith-common) needs Python >= 3.11, Django < 6 and
opentelemetry-api >= 1.25. Its tests then skip, naming the reason, instead of
failing at import. The decision is made from what is installed, never from a
setting: when the extra could be installed here but is not, the tests skip
locally and fail under ``CI=true`` (CI installs everything it can).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

import pytest
from packaging.version import Version

from tests import services

TASK_PROCESSOR = "task-processor"

#: extra -> the module it provides.
_MODULES = {TASK_PROCESSOR: "task_processor"}
#: The running Python (a name of its own, so a test can pretend another one).
PYTHON = tuple(sys.version_info[:3])


def installed(extra: str) -> bool:
    """True when the extra's framework can be imported here."""
    return importlib.util.find_spec(_MODULES[extra]) is not None


def _version(distribution: str) -> Version | None:
    try:
        return Version(importlib.metadata.version(distribution))
    except importlib.metadata.PackageNotFoundError:
        return None


def not_installable(extra: str) -> str | None:
    """Why pip cannot install ``extra`` next to what is installed here, or ``None``."""
    if extra != TASK_PROCESSOR:
        return None
    python = ".".join(map(str, PYTHON))
    if PYTHON < (3, 11):
        return f"flagsmith-common needs Python >= 3.11 (this is {python})"
    django = _version("django")
    if django is not None and django.major >= 6:
        return f"flagsmith-common needs Django < 6 (installed: {django})"
    otel = _version("opentelemetry-api")
    if otel is not None and otel < Version("1.25"):
        return f"flagsmith-common needs opentelemetry-api >= 1.25 (installed: {otel})"
    return None


def missing_reason(extra: str) -> str | None:
    """Why the tests of ``extra`` cannot run here, or ``None`` when they can.

    Fails the calling test (or collection) under ``CI=true`` when the extra is
    missing although pip could install it here.
    """
    if installed(extra):
        return None
    reason = not_installable(extra)
    if reason is not None:
        return f"needs the {extra} extra, not installable here: {reason}"
    message = f'needs the {extra} extra: pip install -e ".[{extra}]"'
    if services.in_ci():
        pytest.fail(f"{message} (CI=true: an installable extra must be installed)")
    return message
