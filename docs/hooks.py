"""MkDocs hook: render the Sphinx roles used in docstrings as plain code.

The docstrings cross-reference with Sphinx roles (``:class:`~ctxcarry.Carrier```),
which the Markdown API reference would otherwise print literally. The role
prefix is dropped, and a ``~`` keeps only the last dotted name, as Sphinx does.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const):<code>(~?)([^<]*)</code>")


def _plain(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """Rewrite ``:role:<code>target</code>`` into ``<code>target</code>``."""
    return _ROLE.sub(_plain, html)
