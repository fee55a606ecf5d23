"""The Celery app: ``celery -A proj --skip-checks worker`` (from this folder).

``install(app)`` carries the request's context with every task. The QueueVars
need no list here: ``ctxcarry.adapters.django`` (in ``INSTALLED_APPS``)
imports every installed app's ``queuevars`` module at ``ready()``, which the
worker runs too (Celery's Django fixup calls ``django.setup()``), with or
without ``--skip-checks``.
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

from ctxcarry.adapters.celery import install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
install(app)
app.autodiscover_tasks()


@setup_logging.connect(weak=False)
def _configure_logging(**_: Any) -> None:
    """Keep Celery from configuring logging: Django's ``LOGGING`` (JSON) applies."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
