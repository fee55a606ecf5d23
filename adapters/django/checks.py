"""System checks: a ``CTXCARRY`` setting or ``MIDDLEWARE`` order that cannot work.

Registered by the app config (``"ctxcarry.adapters.django"`` in ``INSTALLED_APPS``);
they run with ``manage.py check`` and at server start. Without the app, the
middlewares run the same checks when Django loads them (at startup) and raise
``ImproperlyConfigured`` for an error.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import SETTING_NAME, load_settings

__all__ = ["check_middleware_order", "check_settings", "raise_for_errors"]

CONTEXT = "ctxcarry.adapters.django.ContextMiddleware"
IDENTITY = "ctxcarry.adapters.django.ContextIdentityMiddleware"
_CONTEXT_PATHS = (CONTEXT, "ctxcarry.adapters.django.middleware.ContextMiddleware")
_IDENTITY_PATHS = (IDENTITY, "ctxcarry.adapters.django.middleware.ContextIdentityMiddleware")
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
DJANGO_STRUCTLOG = "django_structlog.middlewares.RequestMiddleware"


def _position(middleware: list[str], paths: tuple[str, ...]) -> int | None:
    for index, path in enumerate(middleware):
        if path in paths:
            return index
    return None


def check_middleware_order(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Errors for an identity middleware that cannot work; warnings for risky neighbours."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    context = _position(middleware, _CONTEXT_PATHS)
    identity = _position(middleware, _IDENTITY_PATHS)
    authentication = _position(middleware, (AUTHENTICATION,))
    problems: list[checks.CheckMessage] = []
    if identity is not None and (context is None or identity < context):
        problems.append(
            checks.Error(
                f"{IDENTITY} must come after {CONTEXT} in MIDDLEWARE",
                hint="Identity is bound into the scope ContextMiddleware opens.",
                id="ctxcarry_django.E001",
            )
        )
    if identity is not None and authentication is not None and identity < authentication:
        problems.append(
            checks.Error(
                f"{IDENTITY} must come after {AUTHENTICATION} in MIDDLEWARE",
                hint="request.user does not exist before AuthenticationMiddleware ran.",
                id="ctxcarry_django.E002",
            )
        )
    bind_identity = (getattr(settings, "CTXCARRY", None) or {}).get("BIND_IDENTITY")
    if bind_identity is not None and identity is None and isinstance(middleware, list):
        problems.append(
            checks.Warning(
                "CTXCARRY['BIND_IDENTITY'] is set but ContextIdentityMiddleware is not in "
                "MIDDLEWARE: the hook is never called",
                id="ctxcarry_django.W001",
            )
        )
    if context is not None and DJANGO_STRUCTLOG in middleware:
        problems.append(
            checks.Warning(
                f"{DJANGO_STRUCTLOG} clears every structlog binding when a request ends, "
                "including bindings made outside the request",
                hint="Let ContextMiddleware bind request_id; drop django-structlog's middleware.",
                id="ctxcarry_django.W002",
            )
        )
    return problems


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """An error for a ``CTXCARRY`` setting the middleware would refuse (typo, bad hook path)."""
    try:
        load_settings()
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint=f"See docs/adapters/django.md for the {SETTING_NAME} keys.",
                id="ctxcarry_django.E003",
            )
        ]
    return []


def raise_for_errors(messages: list[checks.CheckMessage]) -> None:
    """Raise ``ImproperlyConfigured`` for the first error among ``messages``."""
    for message in messages:
        if message.is_serious():
            raise ImproperlyConfigured(f"{message.msg} ({message.id}). {message.hint or ''}")
