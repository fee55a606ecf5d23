"""Two test runs on one machine never collide: each has its own database and Redis keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

REPO = Path(__file__).resolve().parents[1]


def _test_database_of_a_new_run(**env: str) -> str:
    """The test database name a new process importing the test settings would use."""
    environment = {k: v for k, v in os.environ.items() if k != "CTXCARRY_TEST_DATABASE"}
    result = subprocess.run(
        [sys.executable, "-c", "import tests.settings as s; print(s.TEST_DATABASE)"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**environment, **env},
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def test_each_run_has_a_test_database_of_its_own() -> None:
    first, second = _test_database_of_a_new_run(), _test_database_of_a_new_run()
    assert re.fullmatch(r"test_ctxcarry_[0-9a-f]{12}", first), first
    assert first != second


def test_the_environment_names_the_test_database() -> None:
    assert _test_database_of_a_new_run(CTXCARRY_TEST_DATABASE="test_mine") == "test_mine"


def test_worker_processes_inherit_this_runs_test_database() -> None:
    # The worker subprocesses inherit the environment and import the same settings.
    assert os.environ["CTXCARRY_TEST_DATABASE"] == settings.DATABASES["default"]["TEST"]["NAME"]


def test_no_test_flushes_a_redis_database() -> None:
    # A concurrent run (or anything else on the machine) may use the same database: the
    # tests delete their own keys only (tests.services.delete_keys).
    pattern = re.compile(r"\.(flushdb|flushall)\(")
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("*.py")
        if path.name != Path(__file__).name and pattern.search(path.read_text())
    ]
    assert offenders == []
