"""Settings of the worker subprocesses (``db_worker``, ``rqworker``) of these tests.

The test process passes, through the environment: the test database's name,
this session's queue name, and whether this worker has the adapter (a worker
without it is a deploy that has not upgraded yet). Log lines are rendered as
JSON by structlog with the contextvars merged, so tests can read them.
"""

from __future__ import annotations

import logging
import os

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from tests import services
from tests.django_tasks.backends import rq_queues_setting, tasks_setting
from tests.django_tasks.compat import FRAMEWORK_APPS

SECRET_KEY = "ctxcarry-django-tasks-tests-not-secret"
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

WITH_ADAPTER = os.environ.get("CTXCARRY_DJTASKS_ADAPTER", "1") == "1"
QUEUE = os.environ.get("CTXCARRY_DJTASKS_QUEUE", "default")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    *FRAMEWORK_APPS,
    "django_tasks_db",
    "django_rq",
]
if os.environ.get("CTXCARRY_DJTASKS_RAISING") == "1":  # before ours: see raising_receivers
    INSTALLED_APPS.append("tests.django_tasks.raising_receivers.RaisingReceiversConfig")
if WITH_ADAPTER:
    INSTALLED_APPS.append("ctxcarry.adapters.django_tasks")

# The benchmark's peer: django-structlog's experimental Django tasks receivers
# (Django 6 only), which keep the context in a cache keyed by the result id.
if os.environ.get("CTXCARRY_DJTASKS_PEER") == "django-structlog":
    INSTALLED_APPS.append("django_structlog")
    DJANGO_STRUCTLOG_DJANGO_TASKS_ENABLED = True
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "django_structlog": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": services.REDIS_URL,
            "KEY_PREFIX": "ctxcarry-djt-bench",
            "TIMEOUT": 600,
        },
    }

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": services.PGHOST,
        "PORT": services.PGPORT,
        "USER": services.PGUSER,
        "PASSWORD": services.PGPASSWORD,
        "NAME": os.environ.get("CTXCARRY_DJTASKS_DB_NAME", "test_ctxcarry"),
        # A test database: no need to wait for each commit to reach the disk.
        "OPTIONS": {"options": "-c synchronous_commit=off"},
    }
}

TASKS = tasks_setting(QUEUE)
RQ_QUEUES = rq_queues_setting(services.REDIS_URL, QUEUE)


def json_formatter() -> logging.Formatter:
    """stdlib records as JSON lines, with structlog's contextvars merged in."""
    return structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
        ],
    )


LOG_LEVEL = os.environ.get("CTXCARRY_DJTASKS_LOG_LEVEL", "INFO")
# structlog's own loggers (django-structlog's, in the benchmark) filter the same way.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(LOG_LEVEL))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": json_formatter}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "level": LOG_LEVEL}
    },
    "root": {
        "handlers": ["stdout"],
        "level": LOG_LEVEL,
    },
}

# A real SDK provider, so tasks can start spans (the parent of what they enqueue).
trace.set_tracer_provider(TracerProvider())
