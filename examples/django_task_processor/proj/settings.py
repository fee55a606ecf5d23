"""Settings of the Django + task processor example (run from this folder; see README.md).

The same settings serve the web process (it enqueues) and the task processor
(it runs): ``ctxcarry.adapters.task_processor`` must be installed in both.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import time, timedelta

import structlog

from ctxcarry.logs import json_logging_config, structlog_processors

SECRET_KEY = "example-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "proj.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"  # what task_processor's migrations use

INSTALLED_APPS = [
    "django.contrib.auth",  # imported by flagsmith-common's `start` command
    "django.contrib.contenttypes",
    "common.core",  # flagsmith-common: the `manage.py start` command
    "task_processor",
    "ctxcarry.adapters.django",  # checks MIDDLEWARE; imports each app's queuevars.py
    "ctxcarry.adapters.task_processor",  # after task_processor: install() at ready()
    "reports",
]

MIDDLEWARE = [
    "proj.tracing.ServerSpanMiddleware",  # stands in for OpenTelemetry's Django middleware
    "ctxcarry.adapters.django.ContextMiddleware",
    "django.middleware.common.CommonMiddleware",
]

CTXCARRY = {"BIND": "reports.logcontext.bind_request"}

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("EXAMPLE_DATABASE", "ctxcarry_example"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
    }
}

# Flagsmith's task processor: every setting it reads, with the type it needs.
TASK_RUN_METHOD = "TASK_PROCESSOR"  # or "SEPARATE_THREAD", "SYNCHRONOUSLY"
# True only in the processor (flagsmith-common's own `flagsmith` entry point decides the
# same way): it runs tasks and registers recurring tasks; web processes only enqueue.
TASK_PROCESSOR_MODE = "task-processor" in sys.argv
TASK_PROCESSOR_DATABASES = ["default"]
ENABLE_TASK_PROCESSOR_HEALTH_CHECK = False
DOCGEN_MODE = False
TASK_BACKOFF_DEFAULT_DELAY_SECONDS = 5
ENABLE_CLEAN_UP_OLD_TASKS = True
TASK_DELETE_RUN_EVERY = timedelta(days=1)  # a recurring task's run_every: a timedelta
TASK_DELETE_RUN_TIME = time(1, 0)  # its first_run_time: a datetime.time
TASK_DELETE_RETENTION_DAYS = 15
TASK_DELETE_BATCH_SIZE = 2000
TASK_DELETE_INCLUDE_FAILED_TASKS = False
RECURRING_TASK_RUN_RETENTION_DAYS = 15
PROMETHEUS_ENABLED = False

# Every record, structlog's and stdlib's (Django's, the task processor's,
# gunicorn's, ctxcarry's), as one JSON line on stderr with the context.
LOGGING = json_logging_config("INFO")
logging.captureWarnings(True)
structlog.configure(
    processors=structlog_processors(),
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
)
