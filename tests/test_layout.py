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
