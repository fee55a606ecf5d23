"""pyproject.toml, noxfile.py and constraints/ tell the same story about supported versions."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as file:
        return dict(tomllib.load(file)["project"])


def _noxfile_pythons() -> list[str]:
    tree = ast.parse((REPO / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "PYTHONS":
            return list(ast.literal_eval(node.value))
    raise AssertionError("noxfile.py has no PYTHONS")


def test_every_python_the_matrix_runs_is_a_classifier(project: dict[str, object]) -> None:
    classifiers = project["classifiers"]
    assert isinstance(classifiers, list)
    claimed = sorted(
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if c.startswith("Programming Language :: Python :: 3.")
    )
    assert claimed == sorted(_noxfile_pythons())
    assert project["requires-python"] == f">={_noxfile_pythons()[0]}"


def test_the_lowest_constraints_pin_every_floor_of_pyproject(project: dict[str, object]) -> None:
    pins: dict[str, Version | None] = {}
    for line in (REPO / "constraints" / "lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            [pin] = requirement.specifier
            pins[requirement.name.lower()] = Version(pin.version) if pin.operator == "==" else None
    optional = project["optional-dependencies"]
    assert isinstance(optional, dict)
    dependencies = project["dependencies"]
    assert isinstance(dependencies, list)
    requirements = [*dependencies, *optional["celery"], *optional["django"], *optional["starlette"]]
    floors: dict[str, Version] = {}
    for text in requirements:
        requirement = Requirement(text)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                floors[requirement.name.lower()] = Version(spec.version)
    assert floors, "pyproject.toml states no floors"
    assert {name: pins.get(name) for name in floors} == floors
