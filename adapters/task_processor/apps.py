"""Django app config for ``ctxcarry.adapters.task_processor``."""

from __future__ import annotations

from django.apps import AppConfig


class CtxcarryTaskProcessorConfig(AppConfig):
    """Installs the task processor hooks when Django is ready."""

    name = "ctxcarry.adapters.task_processor"
    label = "ctxcarry_task_processor"
    verbose_name = "ctxcarry (task processor)"
