"""Fixtures for the task processor adapter tests (real PostgreSQL, real processor)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from tests import extras

# Skips this directory where flagsmith-common cannot be installed (Python 3.10, Django 6).
if (_missing := extras.missing_reason(extras.TASK_PROCESSOR)) is not None:
    pytest.skip(_missing, allow_module_level=True)

from pytest_django.fixtures import Settings as SettingsWrapper
from task_processor.task_run_method import TaskRunMethod

from ctxcarry.adapters import task_processor as adapter
from tests.task_processor.task_functions import recorder, release_slow_task, tenant


@pytest.fixture(autouse=True)
def _tp_clean(postgres_available: None) -> Iterator[None]:
    """Every test needs PostgreSQL and starts with an empty recorder, no tenant, the adapter on."""
    recorder.clear()
    tenant.clear()
    release_slow_task.clear()
    assert adapter.is_installed(), "INSTALLED_APPS should have installed the adapter"
    yield
    release_slow_task.set()
    recorder.clear()
    tenant.clear()


@pytest.fixture
def without_adapter() -> Iterator[None]:
    """Run the test as a deploy without the adapter; reinstall afterwards."""
    adapter.uninstall()
    try:
        yield
    finally:
        adapter.install()


@pytest.fixture
def task_processor_method(settings: SettingsWrapper) -> None:
    settings.TASK_RUN_METHOD = TaskRunMethod.TASK_PROCESSOR


@pytest.fixture
def separate_thread_method(settings: SettingsWrapper) -> None:
    settings.TASK_RUN_METHOD = TaskRunMethod.SEPARATE_THREAD


@pytest.fixture
def synchronous_method(settings: SettingsWrapper) -> None:
    settings.TASK_RUN_METHOD = TaskRunMethod.SYNCHRONOUSLY


class JSONLines:
    """Log lines as rendered by structlog for stdlib loggers (contextvars merged)."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines()]


@pytest.fixture
def processor_log() -> Iterator[JSONLines]:
    """Render ``task_processor`` log lines the way a structlog-configured app does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[structlog.contextvars.merge_contextvars],
        )
    )
    logger = logging.getLogger("task_processor.processor")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield JSONLines(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
