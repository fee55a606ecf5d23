"""``install()`` / ``uninstall()``: idempotent, thread-safe, and exactly reversible."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from common.test_tools.types import RunTasksFixture
from task_processor import decorators, models, processor

from ctxcarry import STRUCTLOG_KEY, Carrier, ContextThread, ContextThreadPoolExecutor
from ctxcarry.adapters.task_processor import install, is_installed, uninstall
from tests.task_processor.task_functions import record_context, recorder, tenant

pytestmark = pytest.mark.integration


def _hook_points() -> dict[str, Any]:
    return {
        "_run_task": processor._run_task,
        "ThreadPoolExecutor": processor.ThreadPoolExecutor,
        "run": vars(models.AbstractBaseTask)["run"],
        "Thread": decorators.Thread,
        "delay": vars(decorators.TaskHandler)["delay"],
    }


@pytest.fixture
def originals(without_adapter: None) -> Iterator[dict[str, Any]]:
    yield _hook_points()
    uninstall()  # whatever the test did; the fixture below reinstalls the default


def test_listing_the_app_in_installed_apps_installs_the_adapter() -> None:
    from django.apps import apps

    assert apps.is_installed("ctxcarry.adapters.task_processor")
    assert is_installed()
    assert processor.ThreadPoolExecutor is ContextThreadPoolExecutor
    assert decorators.Thread is ContextThread


def test_uninstall_restores_every_patched_attribute_exactly(originals: dict[str, Any]) -> None:
    install()
    patched = _hook_points()
    uninstall()

    assert not is_installed()
    assert all(patched[name] is not originals[name] for name in originals)
    assert _hook_points() == originals
    assert all(_hook_points()[name] is originals[name] for name in originals)


def test_install_is_idempotent(originals: dict[str, Any]) -> None:
    install()
    first = _hook_points()
    install()

    assert _hook_points() == first
    assert processor._run_task.__wrapped__ is originals["_run_task"]


def test_concurrent_installs_patch_once(originals: dict[str, Any]) -> None:
    start = threading.Barrier(8)

    def install_at_once() -> None:
        start.wait()
        install()

    threads = [threading.Thread(target=install_at_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert processor._run_task.__wrapped__ is originals["_run_task"]
    assert vars(models.AbstractBaseTask)["run"].__wrapped__ is originals["run"]


@pytest.mark.usefixtures("db", "task_processor_method", "originals")
def test_after_uninstall_nothing_is_stamped() -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1")

    task = record_context.delay(args=("k",))

    assert task is not None
    assert models.Task.objects.get(pk=task.pk).trace_context is None


@pytest.mark.usefixtures("originals")
def test_install_with_a_carrier_uses_it_on_both_sides(run_tasks: RunTasksFixture) -> None:
    install(carrier=Carrier(carry_structlog=False))
    install()  # a later plain install (as AppConfig.ready does) keeps the chosen carrier
    structlog.contextvars.bind_contextvars(request_id="r-2")
    with tenant("acme"):
        task = record_context.delay(args=("k",))
    structlog.contextvars.clear_contextvars()

    run_tasks()

    assert task is not None
    stored = models.Task.objects.get(pk=task.pk).trace_context
    assert stored is not None
    assert STRUCTLOG_KEY not in stored
    seen = recorder.wait("k")["k"]
    assert (seen.log, seen.tenant) == ({}, "acme")


@pytest.mark.usefixtures("originals")
def test_a_strict_carrier_fails_a_task_with_a_bad_carrier_visibly(
    run_tasks: RunTasksFixture,
) -> None:
    install(carrier=Carrier(strict=True))
    task = record_context.delay(args=("k",))
    assert task is not None
    models.Task.objects.filter(pk=task.pk).update(trace_context={STRUCTLOG_KEY: "not an object"})

    [run] = run_tasks()

    assert run.result == models.TaskResult.FAILURE.value
    assert "CarrierError" in (run.error_details or "")
    stored = models.Task.objects.get(pk=task.pk)
    assert (stored.is_locked, stored.num_failures) == (False, 1), "retried later, never stuck"
    assert recorder.get("k") is None
