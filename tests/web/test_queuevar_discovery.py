"""QueueVars exist in every process that sets Django up, whatever it imported.

A worker started with ``celery -A proj worker --skip-checks`` imports no views:
the QueueVars must not depend on import order. ``django.setup()`` is what
Celery's Django fixup, the task processor and every server call.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import django
django.setup()
from ctxcarry._queuevar import lookup
print(lookup("qvapp_organisation_id") is not None, lookup("qvapp_listed") is not None)
"""


def _probe(settings_module: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_django_setup_registers_every_apps_queuevars_and_the_listed_modules() -> None:
    assert _probe("tests.qvapp.settings") == "True True"


def test_without_the_discovery_nothing_registers_them() -> None:
    """The control: the same process without the app sees neither var."""
    assert _probe("tests.settings") == "False False"
