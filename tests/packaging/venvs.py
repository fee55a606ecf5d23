"""Fresh virtualenvs for the packaging tests: create one, install into it, run in it."""

from __future__ import annotations

import os
import subprocess
import venv
from collections.abc import Sequence
from pathlib import Path

__all__ = ["attempt", "clean_env", "fresh_venv", "pip_install", "run"]


def attempt(args: Sequence[str | Path] | str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command (a shell line if ``args`` is a string) outside the repository's test
    setup (:func:`clean_env` unless ``env`` is given); return its outcome, whatever it is."""
    command = args if isinstance(args, str) else [str(a) for a in args]
    kwargs.setdefault("env", clean_env())
    result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        command, shell=isinstance(args, str), capture_output=True, text=True, check=False, **kwargs
    )
    return result


def run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command; fail the test with its output if it fails."""
    result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [str(a) for a in args], capture_output=True, text=True, check=False, **kwargs
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def clean_env() -> dict[str, str]:
    """This process's environment without what points into the repository's test setup."""
    hidden = ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    return {k: v for k, v in os.environ.items() if k not in hidden}


def fresh_venv(path: Path) -> Path:
    """A new virtualenv with pip; returns its Python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip_install(python: Path, *requirements: str, cwd: Path | None = None) -> None:
    """``python -m pip install REQUIREMENTS`` (the machine's indexes and pip's cache)."""
    env = {**clean_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([python, "-m", "pip", "install", "--quiet", *requirements], env=env, cwd=cwd, timeout=900)
