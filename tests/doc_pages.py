"""The documentation pages whose Python examples are tests, and how to read them.

One definition for both users: the root conftest.py runs the examples (Sybil), and
tests/test_typing.py type-checks them. A queue adapter's page needs its framework;
where the framework is not installed, the page is left out of both (its tests run in
another environment, see tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sybil import Document
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).resolve().parents[1]

#: The pages Sybil collects (glob patterns, relative to the repository root).
PATTERNS = ["README.md", "docs/**/*.md", "docs/*.md"]

#: Adapter page -> the module its examples need.
_FRAMEWORK_PAGES = {
    "arq": "arq",
    "rq": "rq",
    "dramatiq": "dramatiq",
    "taskiq": "taskiq",
    "django-tasks": "django_tasks_db",
}
#: The pages whose framework is not installed here (relative paths).
EXCLUDED = [
    f"docs/adapters/{page}.md"
    for page, module in _FRAMEWORK_PAGES.items()
    if importlib.util.find_spec(module) is None
]


def pages() -> list[Path]:
    """Every page whose examples run here, sorted."""
    found = {path for pattern in PATTERNS for path in ROOT.glob(pattern)}
    excluded = {ROOT / page for page in EXCLUDED}
    return sorted(found - excluded)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """The ``python`` code blocks Sybil runs on ``path``: ``(first line, source)`` each.

    A block after ``<!-- skip: next -->`` is left out, as Sybil skips it; ``>>>``
    sessions are not code blocks.
    """
    document = Document.parse(str(path), PythonCodeBlockParser(), SkipParser())
    blocks: list[tuple[int, str]] = []
    skip_next = False
    for example in document.examples():
        if isinstance(example.region.evaluator, Skipper):
            action, _reason = example.region.parsed
            if action != "next":  # only "skip: next" is used (and understood here)
                raise ValueError(f"{path}:{example.line}: unsupported 'skip: {action}'")
            skip_next = True
        elif isinstance(example.region.parsed, str):
            if not skip_next:
                blocks.append((example.line + 1, str(example.region.parsed)))
            skip_next = False
    return blocks
