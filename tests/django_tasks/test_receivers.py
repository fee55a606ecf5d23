"""The adapter's receivers sent real signals with odd payloads: they never raise.

A raising ``task_started``/``task_finished`` receiver breaks these queues: it
turns a successful task FAILED, is sent again, and raising again kills
db_worker; a raising ``pre_save`` receiver fails the enqueue. These tests send
the framework's real signals (``Signal.send`` does not catch) with payloads a
backend or a hostile row could produce.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from ctxcarry import Carrier, inject
from ctxcarry.adapters import django_tasks as adapter
from ctxcarry.adapters.django_tasks.enqueue import stamp_new_row
from tests.django_tasks.compat import DJANGO_6
from tests.django_tasks.vars import djt_tenant

OURS = "ctxcarry.adapters.django_tasks"


def signal_modules() -> list[Any]:
    import django_tasks.signals

    modules: list[Any] = [django_tasks.signals]
    if DJANGO_6:
        import django.tasks.signals

        modules.append(django.tasks.signals)
    return modules


def db_task(task_id: str, carrier: object) -> Any:
    """What the database backend sends: a TaskResult whose ``db_result`` is the row."""
    return SimpleNamespace(
        id=task_id,
        status="RUNNING",
        task=SimpleNamespace(module_path="tests.fake"),
        db_result=SimpleNamespace(args_kwargs={"args": [], "kwargs": {}, "ctxcarry": carrier}),
    )


class Raising:
    """An object every attribute access of which raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"hostile {name}")


@pytest.mark.parametrize("module", signal_modules(), ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    "task_result",
    [
        None,
        object(),
        Raising(),
        SimpleNamespace(id="x", task=Raising(), db_result=SimpleNamespace(args_kwargs={})),
        SimpleNamespace(id=["unhashable"], db_result=SimpleNamespace(args_kwargs={})),
        SimpleNamespace(id="y", db_result=SimpleNamespace(args_kwargs=Raising())),
    ],
    ids=["none", "object", "raising", "raising task", "unhashable id", "raising args_kwargs"],
)
def test_the_run_receivers_never_raise(tasks_settings: None, module: Any, task_result: Any) -> None:
    before = structlog.contextvars.get_contextvars()
    responses = [
        *module.task_started.send_robust(sender=type(None), task_result=task_result),
        *module.task_finished.send_robust(sender=type(None), task_result=task_result),
        *module.task_finished.send_robust(sender=type(None), task_result=task_result),
    ]
    ours = [response for receiver, response in responses if receiver.__module__.startswith(OURS)]
    assert len(ours) == 3
    assert not [response for response in ours if isinstance(response, BaseException)]
    assert structlog.contextvars.get_contextvars() == before


def test_the_enqueue_receiver_never_raises(tasks_settings: None) -> None:
    for instance in (
        Raising(),
        SimpleNamespace(_state=SimpleNamespace(adding=True), args_kwargs=None),
        SimpleNamespace(_state=SimpleNamespace(adding=True), args_kwargs=Raising()),
    ):
        stamp_new_row(sender=None, instance=instance)


def test_a_strict_carrier_error_is_logged_and_the_row_goes_without_a_carrier(
    tasks_settings: None, caplog: pytest.LogCaptureFixture
) -> None:
    adapter.install(Carrier(strict=True, max_bytes=256))
    try:
        args_kwargs: dict[str, Any] = {"args": [], "kwargs": {}, "ctxcarry": {"forged": 1}}
        row = SimpleNamespace(_state=SimpleNamespace(adding=True), args_kwargs=args_kwargs)
        structlog.contextvars.bind_contextvars(djt_big="x" * 1000)
        with caplog.at_level(logging.ERROR, logger="ctxcarry"):
            stamp_new_row(sender=None, instance=row)
    finally:
        adapter.uninstall()
        adapter.install()
    assert args_kwargs == {"args": [], "kwargs": {}}  # the forged key never survives
    assert "DBTaskResult pre_save failed" in caplog.text


def test_finished_twice_is_harmless_and_a_lost_finish_is_undone_before_the_next_task(
    tasks_settings: None, caplog: pytest.LogCaptureFixture
) -> None:
    import django_tasks.signals as signals

    sender = type(None)
    structlog.contextvars.bind_contextvars(worker="w")
    with djt_tenant("a"):
        structlog.contextvars.bind_contextvars(djt_request="a")
        carried_a = inject()
        structlog.contextvars.unbind_contextvars("djt_request")
    first, second = db_task("t-1", carried_a), db_task("t-2", None)

    signals.task_started.send(sender=sender, task_result=first)
    assert (djt_tenant.get(), structlog.contextvars.get_contextvars()["task_id"]) == ("a", "t-1")
    structlog.contextvars.bind_contextvars(djt_leak="t-1")
    # task_finished for t-1 never reaches us (an earlier receiver raised), then t-2 starts
    with caplog.at_level(logging.WARNING, logger="ctxcarry"):
        signals.task_started.send(sender=sender, task_result=second)
    assert "task_finished for task t-1 did not reach ctxcarry" in caplog.text
    assert djt_tenant.get() is None
    assert structlog.contextvars.get_contextvars() == {
        "worker": "w",
        "task_id": "t-2",
        "task_name": "tests.fake",
    }
    signals.task_finished.send(sender=sender, task_result=second)
    signals.task_finished.send(sender=sender, task_result=second)  # db_worker resends it
    signals.task_finished.send(sender=sender, task_result=first)  # late: nothing left to undo
    assert structlog.contextvars.get_contextvars() == {"worker": "w"}


def test_an_active_span_stays_the_parent(tasks_settings: None, tracer: Any) -> None:
    """Restore the carried trace only when no span is active (as with an instrumentation)."""
    import django_tasks.signals as signals
    from opentelemetry import trace

    with tracer.start_as_current_span("enqueuer") as enqueuer:
        carried = inject()
    with tracer.start_as_current_span("worker's own") as own:
        signals.task_started.send(sender=type(None), task_result=db_task("t-span", carried))
        try:
            assert trace.get_current_span() is own
        finally:
            signals.task_finished.send(sender=type(None), task_result=db_task("t-span", None))
    signals.task_started.send(sender=type(None), task_result=db_task("t-none", carried))
    try:
        current = trace.get_current_span().get_span_context()
        assert current.span_id == enqueuer.get_span_context().span_id  # attached: no span active
    finally:
        signals.task_finished.send(sender=type(None), task_result=db_task("t-none", None))
    assert not trace.get_current_span().get_span_context().is_valid
