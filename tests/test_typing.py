"""Type checks: what a user writes from the docs passes ``mypy --strict`` and pyright.

Three sets of code are checked, each by both checkers:

* tests/typing/queuevar_types.py: the QueueVar idioms, with the type each one must
  have (``assert_type``); nothing may be reported;
* tests/typing/queuevar_errors.py: misuses; each line marked ``# error`` must be
  reported and no other line;
* the examples of README.md and docs/ (the ``python`` blocks Sybil runs, see
  tests/doc_pages.py): each page's blocks as one module, each block at the line it has
  in the page, so that a report names the page and its line; nothing may be reported.

Each checker runs once for all of them (a few seconds to a minute). They check the
source tree (the editable install's import hook is invisible to a type checker).
Without mypy or pyright the tests skip locally and fail under ``CI=true``
(``pip install -e ".[dev]"`` installs both; pyright needs Node.js).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import doc_pages, services

ROOT = doc_pages.ROOT
TYPING = Path(__file__).resolve().parent / "typing"
IDIOMS = "queuevar_types.py"
MISUSES = "queuevar_errors.py"
CHECKERS = ("mypy", "pyright")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.typecheck


@dataclass(frozen=True)
class Report:
    """One error: the file (a name in the work directory) and its line."""

    file: str
    line: int
    text: str


@dataclass
class Workspace:
    """The files to check, in one directory, and what each checker reported."""

    directory: Path
    #: Module file name -> the page it was written from (docs only).
    pages: dict[str, str]
    reports: dict[str, list[Report]]
    outputs: dict[str, str]


def _module_name(page: Path) -> str:
    relative = page.relative_to(ROOT).with_suffix("")
    return "doc_" + re.sub(r"\W", "_", "_".join(relative.parts)) + ".py"


def _write_pages(directory: Path) -> dict[str, str]:
    """Each page's blocks as one module, each block at its line in the page."""
    written = {}
    for page in doc_pages.pages():
        blocks = doc_pages.python_blocks(page)
        if not blocks:
            continue
        lines: list[str] = []
        for first, source in blocks:
            lines += [""] * (first - 1 - len(lines))
            lines += source.splitlines()
        name = _module_name(page)
        (directory / name).write_text("\n".join(lines) + "\n")
        written[name] = str(page.relative_to(ROOT))
    return written


def _source_tree(directory: Path) -> Path:
    """``ctxcarry`` as installed (``ctxcarry.adapters`` is the ``adapters`` folder), as links."""
    package = directory / "ctxcarry"
    package.mkdir(parents=True)
    for entry in (ROOT / "ctxcarry").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "adapters").symlink_to(ROOT / "adapters")
    return directory


def _installed(checker: str) -> bool:
    return importlib.util.find_spec(checker) is not None


def _require(checker: str) -> None:
    """Skip the calling test without ``checker``; fail it under ``CI=true``."""
    if _installed(checker):
        return
    message = f'{checker} is not installed: pip install -e ".[dev]"'
    if services.in_ci():
        pytest.fail(f"{message} (CI=true: the type checks must run)")
    pytest.skip(message)


def _run_mypy(work: Path, tree: Path) -> tuple[list[Report], str]:
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--strict",
        "--python-version",
        PYTHON,
        "--cache-dir",
        str(work.parent / "mypy-cache"),
        "--no-error-summary",
        "--no-pretty",
        # An untyped framework's decorator (Celery's @app.task) leaves an untyped function
        # in any example; the examples cannot type Celery (pyright's setting is the same).
        "--allow-untyped-decorators",
        *sorted(path.name for path in work.glob("*.py")),
    ]
    env = {**os.environ, "MYPYPATH": str(tree)}
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    reports = [
        Report(Path(match["file"]).name, int(match["line"]), match["text"])
        for match in re.finditer(
            r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<text>.*)$", output, re.M
        )
    ]
    if done.returncode not in (0, 1) or (done.returncode == 1 and not reports):
        pytest.fail(f"mypy did not run (exit {done.returncode}):\n{output}")
    return reports, output


def _run_pyright(work: Path, tree: Path) -> tuple[list[Report], str]:
    config = {
        "include": ["."],
        "extraPaths": [str(tree)],
        "pythonVersion": PYTHON,
        # tests/typing/*.py say "# pyright: strict". The docs' examples get strict minus what
        # judges a framework rather than the example: an untyped framework's values are
        # Unknown, and its untyped decorators (Celery's @app.task) are ignored, leaving a
        # plain function; imports are checked by running the examples (Sybil). A page's
        # blocks are separate snippets, each with its imports.
        "typeCheckingMode": "strict",
        "reportMissingTypeStubs": "none",
        "reportUnknownMemberType": "none",
        "reportUnknownVariableType": "none",
        "reportUnknownArgumentType": "none",
        "reportUntypedFunctionDecorator": "none",
        "reportFunctionMemberAccess": "none",
        "reportMissingImports": "none",
        "reportMissingModuleSource": "none",
        "reportDuplicateImport": "none",
    }
    (work / "pyrightconfig.json").write_text(json.dumps(config))
    command = [
        sys.executable,
        "-m",
        "pyright",
        "--outputjson",
        "--pythonpath",
        sys.executable,
        "--project",
        str(work / "pyrightconfig.json"),
    ]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"pyright did not run (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    reports = [
        Report(
            Path(item["file"]).name,
            item["range"]["start"]["line"] + 1,
            f"{item['message']} ({item.get('rule', '')})",
        )
        for item in result["generalDiagnostics"]
        if item["severity"] == "error"
    ]
    return reports, json.dumps(result["summary"])


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The checked files; each checker runs on first use (see :func:`checked`)."""
    base = tmp_path_factory.mktemp("typecheck")
    work = base / "work"
    work.mkdir()
    for name in (IDIOMS, MISUSES):
        shutil.copyfile(TYPING / name, work / name)
    return Workspace(work, _write_pages(work), {}, {})


def checked(workspace: Workspace, checker: str) -> list[Report]:
    """What ``checker`` reports on the workspace (run once per session)."""
    _require(checker)
    if checker not in workspace.reports:
        tree = workspace.directory.parent / "source"
        if not tree.exists():
            _source_tree(tree)
        run = _run_mypy if checker == "mypy" else _run_pyright
        workspace.reports[checker], workspace.outputs[checker] = run(workspace.directory, tree)
    return workspace.reports[checker]


def _show(reports: list[Report], pages: dict[str, str]) -> str:
    return "\n".join(f"{pages.get(r.file, r.file)}:{r.line}: {r.text}" for r in reports)


@pytest.mark.parametrize("checker", CHECKERS)
def test_the_documented_queuevar_idioms_have_their_types(
    workspace: Workspace, checker: str
) -> None:
    reports = [r for r in checked(workspace, checker) if r.file == IDIOMS]
    assert not reports, f"{checker} on tests/typing/{IDIOMS}:\n{_show(reports, {})}"


@pytest.mark.parametrize("checker", CHECKERS)
def test_misusing_a_queuevar_is_a_type_error(workspace: Workspace, checker: str) -> None:
    source = (TYPING / MISUSES).read_text().splitlines()
    marked = {
        number
        for number, line in enumerate(source, 1)
        if line.endswith(("# error", f"# error: {checker} only"))
    }
    assert len(marked) >= 5
    reports = [r for r in checked(workspace, checker) if r.file == MISUSES]
    reported = {r.line for r in reports}
    assert reported == marked, (
        f"{checker} on tests/typing/{MISUSES}: not reported: {sorted(marked - reported)}, "
        f"reported but not marked:\n{_show([r for r in reports if r.line not in marked], {})}"
    )


@pytest.mark.parametrize("checker", CHECKERS)
def test_the_docs_examples_type_check(workspace: Workspace, checker: str) -> None:
    assert "README.md" in workspace.pages.values()
    reports = [r for r in checked(workspace, checker) if r.file in workspace.pages]
    assert not reports, (
        f"{checker} on the docs' examples (add what a strict user would write):\n"
        + _show(reports, workspace.pages)
    )


@pytest.mark.parametrize("checker", CHECKERS)
def test_a_missing_checker_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, checker: str
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "_installed", lambda name: name != checker)
    outcomes = []
    for ci in ("", "true"):
        monkeypatch.setenv("CI", ci)
        # A skip or a failure of this test, both BaseExceptions:
        with pytest.raises(BaseException, match=f"{checker} is not installed") as raised:
            _require(checker)
        outcomes.append((raised.type, str(raised.value)))
    assert outcomes == [
        (pytest.skip.Exception, f'{checker} is not installed: pip install -e ".[dev]"'),
        (
            pytest.fail.Exception,
            f'{checker} is not installed: pip install -e ".[dev]" '
            "(CI=true: the type checks must run)",
        ),
    ]
