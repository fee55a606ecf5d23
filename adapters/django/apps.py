"""Django app config for ``ctxcarry.adapters.django``."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from ctxcarry.kit import import_queuevar_modules

from .checks import check_middleware_order, check_settings
from .conf import load_settings


class CtxcarryDjangoConfig(AppConfig):  # type: ignore[misc]
    """Registers the middleware's app (label ``ctxcarry_django``, never ``django``).

    Installing it adds system checks of the ``CTXCARRY`` setting and the
    ``MIDDLEWARE`` order to ``manage.py check``, and registers your QueueVars
    in every process that sets Django up (web, Celery worker, task processor):
    at ``ready()`` it imports each installed app's ``queuevars`` module and the
    modules listed in ``CTXCARRY["QUEUEVARS"]``.
    """

    name = "ctxcarry.adapters.django"
    label = "ctxcarry_django"
    verbose_name = "ctxcarry (Django)"

    def ready(self) -> None:
        checks.register(check_settings)
        checks.register(check_middleware_order)
        autodiscover_modules("queuevars")
        try:
            modules = load_settings().queuevars
        except ImproperlyConfigured:
            return  # check_settings reports it (E003); the middleware refuses to load
        import_queuevar_modules(modules)
