"""The layout rules: adapters are leaves written on the public API and the adapter kit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTERS = Path(__file__).resolve().parents[1] / "adapters"
ALLOWED = {"ctxcarry", "ctxcarry.kit"}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize(
    "path", sorted(ADAPTERS.rglob("*.py")), ids=lambda p: str(p.relative_to(ADAPTERS))
)
def test_adapters_import_only_the_public_api_and_the_kit(path: Path) -> None:
    wrong = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if module.startswith("ctxcarry") and module not in ALLOWED
    ]
    assert not wrong, f"{path.name} reaches into the core or another adapter: {wrong}"


PACKAGE = ADAPTERS.parent / "ctxcarry"
#: The modules of ``ctxcarry`` that are API; everything else is private (``_name``).
PUBLIC_MODULES = {"__init__", "__main__", "cli", "codecs", "inspection", "kit", "logs", "testing"}
#: Old homes of names that moved to ``ctxcarry.kit``: they import with a DeprecationWarning.
DEPRECATED_MODULES = {"queuevar", "request_id", "request_scope"}


def test_only_the_api_modules_of_the_core_have_public_names() -> None:
    public = {path.stem for path in PACKAGE.glob("*.py") if not path.stem.startswith("_")}
    public |= {"__init__", "__main__"} & {path.stem for path in PACKAGE.glob("*.py")}
    assert public == PUBLIC_MODULES | DEPRECATED_MODULES


@pytest.mark.parametrize("name", sorted(DEPRECATED_MODULES))
def test_an_old_module_path_still_imports_and_says_where_the_names_are(name: str) -> None:
    import importlib
    import sys

    sys.modules.pop(f"ctxcarry.{name}", None)
    with pytest.warns(DeprecationWarning, match=r"ctxcarry"):
        module = importlib.import_module(f"ctxcarry.{name}")
    assert module.__all__


FRAMEWORKS = {
    "arq",
    "celery",
    "django",
    "django_tasks",
    "django_tasks_db",
    "dramatiq",
    "fastapi",
    "kombu",
    "redis",
    "rq",
    "starlette",
    "task_processor",
    "taskiq",
    "uvicorn",
}


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_core_module_imports_a_framework_at_module_level(path: Path) -> None:
    """Importing any ctxcarry module, the demo's included, imports no framework."""
    tree = ast.parse(path.read_text(), str(path))
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = [
        alias.name for node in top_level if isinstance(node, ast.Import) for alias in node.names
    ]
    names += [node.module for node in top_level if isinstance(node, ast.ImportFrom) and node.module]
    wrong = [name for name in names if name.split(".")[0] in FRAMEWORKS]
    wrong += [name for name in names if name.startswith("ctxcarry.adapters")]
    assert not wrong, f"{path.name} imports at module level: {wrong}"
