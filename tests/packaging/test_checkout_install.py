"""A checkout installed as README's Install section says, in a fresh virtualenv, core only.

The clone sits in a folder named ``ctxcarry``, as ``git clone`` makes it, and the
commands run from the folder holding it: there, Python takes the clone for a namespace
package ``ctxcarry`` unless a regular package is installed. setuptools' editable install
(``pip install -e .``) cannot give one for this layout (``ctxcarry.adapters`` comes from
``adapters/``): it installs an import hook, which loses to the namespace package, and mypy
cannot see through it. So the documented install into a project is a regular one; see
docs/contributing.md. Slow (a virtualenv, a build): marked ``packaging``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.venvs import attempt, clean_env, fresh_venv, pip_install, run
from tests.services import in_ci

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
#: README's installs of a clone into a project's virtualenv, from the folder holding the
#: clone: the regular one, and the editable one for a user who edits ctxcarry beside the
#: project (``strict``: a tree of links on ``sys.path``, which imports and mypy can read).
INSTALLS = {
    "regular": ("./ctxcarry",),
    "editable-strict": ("-e", "./ctxcarry", "--config-settings", "editable_mode=strict"),
}


@dataclass(frozen=True)
class Installed:
    #: The folder holding the clone (the clone itself is ``parent / "ctxcarry"``).
    parent: Path
    python: Path

    def command(self, name: str) -> Path:
        return self.python.parent / name


def copy_checkout(target: Path) -> None:
    """The repository's tracked files, as a fresh clone has them."""
    listed = run(["git", "ls-files", "-z"], cwd=REPO).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module", params=list(INSTALLS))
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Installed:
    """A fresh virtualenv with a clone of this checkout installed, no extra."""
    parent = tmp_path_factory.mktemp("projects")
    copy_checkout(parent / "ctxcarry")
    python = fresh_venv(tmp_path_factory.mktemp("venv-checkout"))
    pip_install(python, *INSTALLS[request.param], cwd=parent)
    return Installed(parent, python)


def test_imports_from_the_folder_holding_the_clone(installed: Installed) -> None:
    script = "from ctxcarry import QueueVar; import ctxcarry.adapters, ctxcarry.kit; print('ok')"
    result = run([installed.python, "-c", script], cwd=installed.parent, env=clean_env())
    assert result.stdout == "ok\n"


def test_mypy_reads_the_installed_package_and_its_types(installed: Installed) -> None:
    if importlib.util.find_spec("mypy") is None:  # the test extra has it; CI must never skip
        if in_ci():
            pytest.fail("mypy is not installed (CI=true: install the test extra)")
        pytest.skip("mypy is not installed")
    (installed.parent / "uses_ctxcarry.py").write_text(
        textwrap.dedent(
            """
            from ctxcarry import QueueVar

            tenant = QueueVar("checkout_tenant", default="")
            reveal_type(tenant.get())
            """
        )
    )
    cache = str(installed.parent / ".mypy_cache")
    options = ["--strict", "--cache-dir", cache, "--python-executable", str(installed.python)]
    mypy = [sys.executable, "-m", "mypy", *options, "uses_ctxcarry.py"]
    result = attempt(mypy, cwd=installed.parent, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r'Revealed type is "(builtins\.)?str"', result.stdout), result.stdout


def test_demo_without_its_extra_is_one_line_naming_it(installed: Installed) -> None:
    result = attempt([installed.command("ctxcarry"), "demo"], cwd=installed.parent, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("ctxcarry demo: error: the demo needs ctxcarry[demo]")
    assert result.stderr.count("\n") == 1, result.stderr
    # The command it names is the one that works from here.
    assert result.stderr.endswith(
        'pip install "./ctxcarry[demo]" from the folder holding a clone\n'
    )


def test_demo_without_its_extra_piped_into_head_has_no_traceback(installed: Installed) -> None:
    pipe = f"'{installed.command('ctxcarry')}' demo | head -3"
    result = attempt(pipe, cwd=installed.parent, timeout=60)
    assert result.stderr.startswith("ctxcarry demo: error: the demo needs ctxcarry[demo]")
    assert result.stderr.count("\n") == 1, result.stderr


def test_inspect_with_the_core_only(installed: Installed) -> None:
    carrier = {"structlog_context": {"request_id": "r-1"}, "ctxcarry": {"v": 1, "vars": {}}}
    result = run(
        [installed.command("ctxcarry"), "inspect", "-"],
        input=json.dumps(carrier),
        cwd=installed.parent,
        env=clean_env(),
        timeout=60,
    )
    assert 'request_id = "r-1"' in result.stdout
    assert "QueueVars: none" in result.stdout


def readme_command(start: str) -> str:
    """The line of README.md's commands that starts with ``start``, as written there."""
    lines = (REPO / "README.md").read_text().splitlines()
    (line,) = [line for line in lines if line.startswith(start)]
    return line


def test_readmes_first_command_runs_the_demo_in_a_new_clone(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # As written, in a new terminal (no virtualenv active): a venv, an install, the demo.
    clone = tmp_path_factory.mktemp("clone") / "ctxcarry"
    copy_checkout(clone)
    command = readme_command("python3 -m venv .venv && ")
    environment = {**clean_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = attempt(command, cwd=clone, env=environment, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("ctxcarry demo: OK"), result.stdout[-2000:]
