"""The command line and the test helpers import no framework until a command needs one."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("django", "celery", "kombu", "starlette", "httpx", "task_processor", "uvicorn")


def loaded_frameworks(statement: str) -> list[str]:
    code = (
        f"import sys\n{statement}\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return [name for name in result.stdout.strip().split(",") if name]


def test_cli_inspection_testing_and_demo_package_import_no_framework() -> None:
    statement = "import ctxcarry.cli, ctxcarry.inspection, ctxcarry.testing, ctxcarry.demo"
    assert loaded_frameworks(statement) == []


def test_inspect_runs_without_importing_a_framework() -> None:
    statement = (
        "import io, contextlib\n"
        "from ctxcarry.cli import main\n"
        'sys.stdin = io.TextIOWrapper(io.BytesIO(b\'{"structlog_context": {"a": 1}}\'))\n'
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['inspect']) == 0"
    )
    assert loaded_frameworks(statement) == []
