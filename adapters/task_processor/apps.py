"""Django app config for ``ctxcarry.adapters.task_processor``."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from .installation import install


class CtxcarryTaskProcessorConfig(AppConfig):  # type: ignore[misc]  # Django is untyped here
    """Installs the task processor hooks when Django is ready.

    Also imports every installed app's ``queuevars`` module, so the QueueVars
    a task carries exist in the processor whatever else it imported.
    """

    name = "ctxcarry.adapters.task_processor"
    label = "ctxcarry_task_processor"
    verbose_name = "ctxcarry (task processor)"

    def ready(self) -> None:
        if not apps.is_installed("task_processor"):
            raise ImproperlyConfigured(
                '"ctxcarry.adapters.task_processor" needs "task_processor" in INSTALLED_APPS'
            )
        autodiscover_modules("queuevars")
        install()
