"""Django app config for ``ctxcarry.adapters.django``."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from .checks import check_middleware_order, check_settings


class CtxcarryDjangoConfig(AppConfig):  # type: ignore[misc]
    """Registers the middleware's app (label ``ctxcarry_django``, never ``django``).

    Installing it is optional; it adds system checks of the ``CTXCARRY`` setting
    and the ``MIDDLEWARE`` order to ``manage.py check``.
    """

    name = "ctxcarry.adapters.django"
    label = "ctxcarry_django"
    verbose_name = "ctxcarry (Django)"

    def ready(self) -> None:
        checks.register(check_settings)
        checks.register(check_middleware_order)
