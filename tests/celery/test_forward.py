"""A worker that has not imported a QueueVar's module forwards its value (a real worker).

The worker subprocess runs ``tests.celery.worker_app``, which never imports
``tests.celery.producer_only_vars``: the var is unregistered there, as in a
worker started with ``--skip-checks`` that relied on views importing it. The
tasks that worker enqueues -- a nested task and the next step of a chain --
must still carry the value, and the warning must name the module to import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import chain

from tests.celery.conftest import RESULT_TIMEOUT, SubprocessWorker
from tests.celery.producer_only_vars import organisation_id

StartWorker = Callable[..., tuple[Any, SubprocessWorker]]
NAME = "celery_tests.producer_only"
MODULE = "tests.celery.producer_only_vars"


def carried_vars(report: dict[str, Any]) -> dict[str, Any]:
    return dict(((report["carrier"] or {}).get("ctxcarry") or {}).get("vars") or {})


def carried_modules(report: dict[str, Any]) -> dict[str, Any]:
    return dict(((report["carrier"] or {}).get("ctxcarry") or {}).get("modules") or {})


def test_nested_and_chained_tasks_keep_a_var_the_worker_never_imported(
    subprocess_worker: StartWorker,
) -> None:
    app, worker = subprocess_worker("prefork", concurrency=1)
    step = app.tasks["ctx.step"]
    with organisation_id("org-42"):
        parent = app.tasks["ctx.enqueue_child"].delay().get(timeout=RESULT_TIMEOUT)
        steps = chain(step.s(), step.s()).apply_async().get(timeout=RESULT_TIMEOUT)
    child = app.AsyncResult(parent["child_id"]).get(timeout=RESULT_TIMEOUT)

    # The child and the chain's second step were enqueued by the worker, which forwarded
    # the value (and the module hint) unchanged.
    assert carried_vars(child) == {NAME: "org-42"}
    assert carried_modules(child) == {NAME: MODULE}
    assert [carried_vars(report) for report in steps] == [{NAME: "org-42"}, {NAME: "org-42"}]

    log = worker.log()
    assert (
        f"QueueVar '{NAME}' is not registered in this process (defined in {MODULE} where the "
        f"task was enqueued): import that module in the worker, "
        f'e.g. install(queuevars=["{MODULE}"])'
    ) in log
    assert "its value is forwarded unchanged to tasks enqueued here" in log
