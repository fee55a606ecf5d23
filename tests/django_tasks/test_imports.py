"""Importing ctxcarry (or the adapter package's init without Django set up) imports no queue."""

from __future__ import annotations

import subprocess
import sys

QUEUE_LIBRARIES = ("django_tasks", "django_tasks_db", "django_tasks_rq", "django_rq", "rq")


def loaded(statement: str) -> list[str]:
    code = (
        f"import sys\n{statement}\n"
        "print(','.join(sorted(m for m in sys.modules "
        f"if m.split('.')[0] in {QUEUE_LIBRARIES!r} or m.startswith('django.tasks'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return [name for name in result.stdout.strip().split(",") if name]


def test_importing_ctxcarry_imports_no_task_framework() -> None:
    assert loaded("import ctxcarry, ctxcarry.kit, ctxcarry.adapters") == []


def test_importing_the_adapter_imports_no_backend_until_install() -> None:
    # the backends are found and imported by install(), once Django's apps are ready
    assert loaded("import ctxcarry.adapters.django_tasks") == []
