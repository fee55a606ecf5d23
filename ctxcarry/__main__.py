"""``python -m ctxcarry``: the same as the ``ctxcarry`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
