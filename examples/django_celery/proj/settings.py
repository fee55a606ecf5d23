"""Settings of the Django + Celery example (run from this folder; see README.md)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import structlog

from ctxcarry.logs import json_logging_config, structlog_processors

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "proj.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "ctxcarry.adapters.django",  # checks the MIDDLEWARE order; imports each app's queuevars.py
    "orders",
]

MIDDLEWARE = [
    "proj.tracing.ServerSpanMiddleware",  # stands in for OpenTelemetry's Django middleware
    "ctxcarry.adapters.django.ContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "orders.auth.ProxyUserMiddleware",  # authentication: the user your proxy vouched for
    "ctxcarry.adapters.django.ContextIdentityMiddleware",  # right after authentication
]

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_SQLITE", str(BASE_DIR / "db.sqlite3")),
    }
}

CTXCARRY = {
    "BIND": "orders.logcontext.bind_request",
    "BIND_IDENTITY": "orders.logcontext.bind_identity",
}

# Celery, read by proj/celery.py (namespace "CELERY").
CELERY_BROKER_URL = os.environ.get("EXAMPLE_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("EXAMPLE_QUEUE", "django-celery-example")
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False

# Every record, structlog's and stdlib's (Django's, Celery's, ctxcarry's), as
# one JSON line on stderr with the request's context.
LOGGING = json_logging_config("INFO")
logging.captureWarnings(True)
structlog.configure(
    processors=structlog_processors(),
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
)
