"""Django app config for ``ctxcarry.adapters.django``."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class CtxcarryDjangoConfig(AppConfig):  # type: ignore[misc]
    """Registers the middleware's app (label ``ctxcarry_django``, never ``django``).

    Installing it is optional; it adds system checks of the ``MIDDLEWARE`` order.
    """

    name = "ctxcarry.adapters.django"
    label = "ctxcarry_django"
    verbose_name = "ctxcarry (Django)"

    def ready(self) -> None:
        from .checks import check_middleware_order

        checks.register(check_middleware_order)
