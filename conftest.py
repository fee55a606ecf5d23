"""Execute the Python examples in README.md and docs/**/*.md as tests (Sybil).

Every ```python block runs, in order, in one namespace per document; put
``<!-- skip: next -->`` on the line before a block that cannot run standalone
(it needs a broker, a Django project, a server). Blocks in other languages
(```bash, ```text) are never run.

Isolation, so that a document cannot affect another document or a test:

* each document runs in its own, initially empty :class:`contextvars.Context`
  (what one block binds is still visible to the next block of the same page,
  as a reader expects, and nowhere else);
* the structlog configuration, ctxcarry's default Carrier and the root logger's
  handlers and level are put back after each document.

QueueVar names are global to the process and a name can be registered only
once, so every document must use names of its own (e.g. prefixed with the
page: ``QueueVar("gs_tenant", ...)`` in getting-started.md). Which pages run is
tests/doc_pages.py's (tests/test_typing.py type-checks the same blocks).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable
from typing import Any

import pytest
import structlog
from sybil import Document, Example, Region, Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser
from sybil.typing import Evaluator

import ctxcarry
from tests import doc_pages

_CONTEXT = "_ctxcarry_document_context"
_SAVED = "_ctxcarry_saved_state"


def _in_document_context(evaluator: Evaluator) -> Evaluator:
    """Run ``evaluator`` inside the document's private contextvars.Context."""

    def evaluate(example: Example) -> Any:
        context: contextvars.Context = example.namespace[_CONTEXT]
        return context.run(evaluator, example)

    return evaluate


class IsolatedPythonCodeBlockParser(PythonCodeBlockParser):
    """Python code blocks (and ``>>>`` sessions), each evaluated in the document's Context."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in super().__call__(document):
            if region.evaluator is not None:
                region.evaluator = _in_document_context(region.evaluator)
            yield region


def _setup(namespace: dict[str, Any]) -> None:
    namespace[_CONTEXT] = contextvars.Context()
    root = logging.getLogger()
    namespace[_SAVED] = (
        structlog.get_config(),
        ctxcarry.get_default_carrier(),
        (root.handlers[:], root.level),
    )


def _teardown(namespace: dict[str, Any]) -> None:
    structlog_config, carrier, (handlers, level) = namespace[_SAVED]
    structlog.configure(**structlog_config)
    ctxcarry.set_default_carrier(carrier)
    root = logging.getLogger()
    root.handlers[:], root.level = handlers, level


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of the slow packaging tests (``-m "not packaging"`` skips them)."""
    config.addinivalue_line(
        "markers", "packaging: builds the package and installs it in fresh virtualenvs (slow)"
    )


pytest_collect_file = Sybil(
    parsers=[IsolatedPythonCodeBlockParser(), SkipParser()],
    patterns=doc_pages.PATTERNS,
    excludes=doc_pages.EXCLUDED,
    setup=_setup,
    teardown=_teardown,
    name="docs",
).pytest()
