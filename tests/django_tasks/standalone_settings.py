"""The suite's settings without the Flagsmith task processor, for running this package alone.

flagsmith-common does not install next to Django 6, so the Django 6 run
(Python 3.12) uses ``--ds tests.django_tasks.standalone_settings``::

    python -m pytest tests/django_tasks --ds tests.django_tasks.standalone_settings
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as _SUITE_APPS

INSTALLED_APPS = [app for app in _SUITE_APPS if "task_processor" not in app]
