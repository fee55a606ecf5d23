"""install() / uninstall(): idempotent, the Carrier's meaning, and exact undo of every hook."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from django.db.models.signals import pre_save

from ctxcarry import Carrier, get_default_carrier
from ctxcarry.adapters import django_tasks as adapter
from ctxcarry.adapters.django_tasks import state


def rq_job_attributes() -> tuple[Any, Any]:
    from django_tasks_rq import Job

    return inspect.getattr_static(Job, "create"), inspect.getattr_static(Job, "perform")


def receivers(signal: Any) -> int:
    return len(signal.receivers)


def test_installed_by_the_app_config(tasks_settings: None) -> None:
    assert adapter.is_installed()


def test_install_is_idempotent_and_uninstall_restores_everything(tasks_settings: None) -> None:
    import django_tasks.signals as signals
    from django_tasks_db.models import DBTaskResult

    installed = rq_job_attributes()
    counts = (receivers(signals.task_started), receivers(signals.task_finished))
    adapter.install()
    adapter.install()
    assert rq_job_attributes() == installed
    assert (receivers(signals.task_started), receivers(signals.task_finished)) == counts
    adapter.uninstall()
    try:
        from django_tasks_rq import Job
        from rq.job import Job as RQJob

        assert "create" not in vars(Job)  # inherited from rq again
        assert inspect.getattr_static(Job, "create") is vars(RQJob)["create"]
        assert rq_job_attributes()[1].__qualname__ == "Job.perform"
        assert (receivers(signals.task_started), receivers(signals.task_finished)) == (
            counts[0] - 1,
            counts[1] - 1,
        )
        assert not pre_save.has_listeners(DBTaskResult) or all(
            "stamp_new_row" not in repr(r) for r in pre_save.receivers
        )
        assert not adapter.is_installed()
        adapter.uninstall()  # a no-op
    finally:
        adapter.install()


def test_the_framework_log_receiver_runs_after_ours(tasks_settings: None) -> None:
    import django_tasks.signals as signals

    live = signals.task_started._live_receivers(type(None))
    names = [getattr(r, "__name__", "") for r in (live[0] if isinstance(live, tuple) else live)]
    assert names.index("on_task_started") < names.index("log_task_started")


def test_the_carrier_meaning(tasks_settings: None) -> None:
    current = state.current
    assert current is not None
    assert current.installation.carrier is get_default_carrier()
    chosen = Carrier(max_keys=5)
    adapter.install(chosen)
    try:
        assert current.installation.carrier is chosen
        adapter.install()  # as AppConfig.ready does: keeps the chosen Carrier
        assert current.installation.carrier is chosen
    finally:
        adapter.uninstall()
        adapter.install()
    assert state.current is not None
    assert state.current.installation.carrier is get_default_carrier()  # forgotten


def test_install_rejects_what_is_not_a_carrier(tasks_settings: None) -> None:
    with pytest.raises(TypeError):
        adapter.install("not a carrier")  # type: ignore[arg-type]


def test_bind_identity_can_be_turned_off(tasks_settings: None) -> None:
    from tests.django_tasks.tasks import probe

    adapter.install(bind_identity=False)
    try:
        report = probe.using(backend="immediate").enqueue("no identity").return_value
    finally:
        adapter.install(bind_identity=True)
    assert "task_id" not in report["log"]
    report = probe.using(backend="immediate").enqueue("identity").return_value
    assert "task_id" in report["log"]
