"""Django settings for the test suite (task processor and Django middleware tests).

PostgreSQL is required: the task processor's PL/pgSQL functions do not exist on
SQLite. pytest-django creates the test database and drops it at the end of the run.
Its name is the run's own (``test_ctxcarry_<random>``), so that two runs on one machine
never drop each other's database; ``CTXCARRY_TEST_DATABASE`` names it instead.
"""

from __future__ import annotations

import os
import uuid

from tests import extras, services

SECRET_KEY = "ctxcarry-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "ctxcarry.adapters.django",
]
if extras.installed(extras.TASK_PROCESSOR):
    # Not installable on Python 3.10 or with Django 6 (tests/extras.py); its tests skip there.
    INSTALLED_APPS[3:3] = ["task_processor", "ctxcarry.adapters.task_processor"]

#: This run's test database. Set in the environment (when not already set) so that the worker
#: processes the tests start, which inherit it and import these settings, use the same one.
TEST_DATABASE = os.environ.setdefault(
    "CTXCARRY_TEST_DATABASE", f"test_ctxcarry_{uuid.uuid4().hex[:12]}"
)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": services.PGHOST,
        "PORT": services.PGPORT,
        "USER": services.PGUSER,
        "PASSWORD": services.PGPASSWORD,
        "NAME": "ctxcarry",
        "TEST": {"NAME": TEST_DATABASE},
    }
}

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.urls"

# Flagsmith task processor (see ../shared/notes/task-processor.md).
TASK_RUN_METHOD = "TASK_PROCESSOR"
TASK_PROCESSOR_MODE = True
DOCGEN_MODE = False
TASK_PROCESSOR_DATABASES = ["default"]
ENABLE_TASK_PROCESSOR_HEALTH_CHECK = False
TASK_BACKOFF_DEFAULT_DELAY_SECONDS = 1
ENABLE_CLEAN_UP_OLD_TASKS = False
TASK_DELETE_RETENTION_DAYS = 15
TASK_DELETE_BATCH_SIZE = 2000
TASK_DELETE_RUN_TIME = "01:00"
TASK_DELETE_RUN_EVERY = 1
TASK_DELETE_INCLUDE_FAILED_TASKS = False
RECURRING_TASK_RUN_RETENTION_DAYS = 15
