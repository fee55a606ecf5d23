"""Django request middleware (see docs/adapters/django.md).

``ctxcarry.adapters.django.ContextMiddleware`` and
``ctxcarry.adapters.django.ContextIdentityMiddleware`` go in ``MIDDLEWARE``;
the ``CTXCARRY`` setting configures both (see :mod:`.conf`).
"""

from __future__ import annotations

from .middleware import ContextIdentityMiddleware, ContextMiddleware

__all__ = ["ContextIdentityMiddleware", "ContextMiddleware"]
