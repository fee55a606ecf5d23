"""Django app config for ``ctxcarry.adapters.django``."""

from __future__ import annotations

from django.apps import AppConfig


class CtxcarryDjangoConfig(AppConfig):
    """Registers the middleware's app (label ``ctxcarry_django``, never ``django``)."""

    name = "ctxcarry.adapters.django"
    label = "ctxcarry_django"
    verbose_name = "ctxcarry (Django)"
