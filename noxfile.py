"""The test matrix: every supported Python, the lowest and newest dependencies, each framework.

``nox`` runs every session (the full matrix, one after another); ``nox -l`` lists them;
``nox -s tests-3.12`` runs one. Each session installs ctxcarry into a fresh virtualenv
with the extras that can be installed there, runs the whole test suite and writes what it
ran to ``.nox/results/<session>.json``; ``python scripts/compat_table.py`` turns those
files into the table in ``docs/compatibility.md``.

Sessions (see docs/compatibility.md for why each one exists):

* ``tests-3.10`` ... ``tests-3.13``: the newest release of everything on each Python
  (the task processor is not installable on 3.10: flagsmith-common needs Python >= 3.11);
  these also build the package and install it with each extra (the ``packaging`` tests);
* ``lowest``: every floor in pyproject.toml, pinned by ``constraints/lowest.txt`` (3.11);
* ``django-4.2``, ``django-5.2`` (3.11) and ``django-6`` (3.12: Django 6 needs it; the
  task processor is not installable with Django 6: flagsmith-common caps Django below 6);
* ``celery-5.3`` and ``structlog-23.1``: the oldest supported series of each, everything
  else newest (the newest of both is what the ``tests-*`` sessions run).

The interpreters come from pyenv when it is there (``pyenv install 3.10 3.11 3.12 3.13``),
else from ``python3.X`` on PATH. The services are the test suite's own (tests/services.py):
under ``CI=true`` a missing service or an installable extra that is missing fails.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / ".nox" / "results"
CONSTRAINTS = ROOT / "constraints"

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
#: Every extra the suite tests (docs: it builds the site); the task processor is left out
#: where pip cannot install it (Python 3.10: its environment markers drop it; Django 6).
#: The tests-3.x sessions: every adapter (arq runs in its own environment, see .ci/run).
EXTRAS_NEWEST = "all,test,test-queues,docs"
#: The pinned sessions test the core and the first adapters at their floors; the queue
#: adapters (RQ, Dramatiq, Taskiq, Django tasks) need newer frameworks and run in tests-3.x.
EXTRAS_ALL = "celery,django,starlette,task-processor,test,docs"
EXTRAS_NO_TASK_PROCESSOR = "celery,django,starlette,test,docs"
#: What the results record as "the versions this session ran".
REPORTED = (
    "structlog",
    "opentelemetry-api",
    "celery",
    "kombu",
    "django",
    "starlette",
    "flagsmith-common",
)

nox.options.default_venv_backend = "venv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True


def _pyenv_interpreters() -> None:
    """Put the newest pyenv build of each supported Python on PATH (nox looks there)."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    listed = subprocess.run(
        [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
    newest: dict[str, tuple[int, ...]] = {}
    for version in listed:
        match = re.fullmatch(r"3\.(\d+)\.(\d+)", version)
        if match and f"3.{match[1]}" in PYTHONS:
            key, patch = f"3.{match[1]}", (3, int(match[1]), int(match[2]))
            newest[key] = max(newest.get(key, patch), patch)
    bins = [
        str(Path(root.stdout.strip(), "versions", ".".join(map(str, v)), "bin"))
        for v in newest.values()
    ]
    os.environ["PATH"] = os.pathsep.join([*bins, os.environ.get("PATH", "")])


_pyenv_interpreters()


#: When each session started installing (the recorded time includes the install).
_started: dict[str, float] = {}


def _install(session: nox.Session, extras: str, *constraints: str) -> None:
    _started[session.name] = time.monotonic()
    args = [arg for name in constraints for arg in ("-c", str(CONSTRAINTS / name))]
    session.install("--upgrade", "pip")
    session.install(*args, "-e", f".[{extras}]")


def _pytest(session: nox.Session, *default_args: str) -> None:
    """Run the suite (``nox -s NAME -- ARGS`` replaces the default arguments), record it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    junit = RESULTS / f"{session.name}.xml"
    junit.unlink(missing_ok=True)  # never count an earlier run's tests
    args = session.posargs or list(default_args)
    started = time.monotonic()
    try:
        session.run("python", "-m", "pytest", f"--junitxml={junit}", *args)
    finally:
        now = time.monotonic()
        timing = {
            "seconds": round(now - started),
            "session_seconds": round(now - _started.get(session.name, started)),
        }
        _record(session, junit, timing, full=not session.posargs)


def _record(session: nox.Session, junit: Path, timing: dict[str, int], full: bool) -> None:
    versions = json.loads(
        session.run(
            "python",
            "-c",
            "import importlib.metadata as m, json, platform\n"
            "def v(n):\n"
            "    try: return m.version(n)\n"
            "    except m.PackageNotFoundError: return None\n"
            f"print(json.dumps({{'python': platform.python_version(), "
            f"**{{n: v(n) for n in {REPORTED!r}}}}}))",
            silent=True,
            log=False,
        )
        or "{}"
    )
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if junit.exists():
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, "0"))
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    result = {
        "session": session.name,
        "versions": versions,
        "passed": passed,
        "failed": counts["failures"] + counts["errors"],
        "skipped": counts["skipped"],
        "full_suite": full,
        **timing,
        "date": time.strftime("%Y-%m-%d"),
        "platform": f"{platform.system()} {platform.machine()}",
    }
    (RESULTS / f"{session.name}.json").write_text(json.dumps(result, indent=2) + "\n")


@nox.session(python=PYTHONS, tags=["newest"])
def tests(session: nox.Session) -> None:
    """The newest release of every dependency on this Python, packaging tests included."""
    _install(session, EXTRAS_NEWEST)
    _pytest(session)


@nox.session(python="3.11", tags=["lowest"])
def lowest(session: nox.Session) -> None:
    """Every floor in pyproject.toml (constraints/lowest.txt).

    flagsmith-common needs opentelemetry-api >= 1.25, so the task processor is not
    installable with these floors; its tests skip, naming why.
    """
    _install(session, EXTRAS_NO_TASK_PROCESSOR, "lowest.txt")
    _pytest(session, "-m", "not packaging")


def _framework_session(name: str, python: str, extras: str, constraints: str, doc: str) -> None:
    @nox.session(name=name, python=python, tags=["frameworks"])
    def session_function(session: nox.Session) -> None:
        _install(session, extras, constraints)
        _pytest(session, "-m", "not packaging")

    session_function.__doc__ = f"{doc} (constraints/{constraints})."


_framework_session("django-4.2", "3.11", EXTRAS_ALL, "django-4.2.txt", "Django 4.2 LTS")
_framework_session("django-5.2", "3.11", EXTRAS_ALL, "django-5.2.txt", "Django 5.2 LTS")
_framework_session(
    "django-6",
    "3.12",
    EXTRAS_NO_TASK_PROCESSOR,  # flagsmith-common caps Django below 6
    "django-6.txt",
    "The newest Django 6, without the task processor",
)
_framework_session("celery-5.3", "3.11", EXTRAS_ALL, "celery-5.3.txt", "Celery and Kombu 5.3")
_framework_session("structlog-23.1", "3.11", EXTRAS_ALL, "structlog-23.1.txt", "structlog 23.1")


@nox.session(name="compat-table", python=False, tags=["newest", "lowest", "frameworks"])
def compat_table(session: nox.Session) -> None:
    """Render docs/compatibility.md's table from the results of the sessions above."""
    session.run("python", str(ROOT / "scripts" / "compat_table.py"), *session.posargs)
