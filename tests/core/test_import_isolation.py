"""Importing ctxcarry must never import a web framework or task queue."""

from __future__ import annotations

import subprocess
import sys


def test_import_ctxcarry_imports_no_framework() -> None:
    code = (
        "import sys, ctxcarry, ctxcarry.adapters\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'celery', 'kombu', 'starlette', 'task_processor', 'asgiref', 'uvicorn'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
