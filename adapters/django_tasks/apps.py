"""Django app config for ``ctxcarry.adapters.django_tasks``."""

from __future__ import annotations

from django.apps import AppConfig

from .installation import install


class CtxcarryDjangoTasksConfig(AppConfig):  # type: ignore[misc]  # Django is untyped here
    """Installs the adapter when Django is ready (label ``ctxcarry_django_tasks``)."""

    name = "ctxcarry.adapters.django_tasks"
    label = "ctxcarry_django_tasks"
    verbose_name = "ctxcarry (Django tasks)"

    def ready(self) -> None:
        install()
