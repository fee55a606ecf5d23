"""install() / uninstall(): once per process, exactly undone; ctxcarry alone never imports rq."""

from __future__ import annotations

import subprocess
import sys

import rq.job
import rq.queue
import rq.worker

from ctxcarry.adapters.rq import install, is_installed, uninstall


def _attributes() -> tuple[object, object, object, object]:
    return (
        vars(rq.job.Job)["create"],
        vars(rq.worker.BaseWorker)["perform_job"],
        vars(rq.queue.Queue)["run_sync"],
        vars(rq.worker.Worker).get("perform_job"),
    )


def test_install_is_idempotent_and_uninstall_puts_everything_back() -> None:
    before = _attributes()
    install()
    installed = _attributes()
    assert installed[:3] != before[:3]
    install()
    assert _attributes() == installed  # never wrapped twice
    assert is_installed()
    uninstall()
    assert _attributes() == before
    assert not is_installed()
    uninstall()  # a no-op


def test_a_worker_class_that_shadows_perform_job_is_wrapped_too() -> None:
    """opentelemetry-instrumentation-rq replaces Worker.perform_job; ours must not be hidden."""
    original = vars(rq.worker.BaseWorker)["perform_job"]

    def shadow(self: object, *args: object, **kwargs: object) -> object:
        return original(self, *args, **kwargs)

    rq.worker.Worker.perform_job = shadow  # type: ignore[method-assign]
    try:
        install()
        assert vars(rq.worker.Worker)["perform_job"] is not shadow
        uninstall()
        assert vars(rq.worker.Worker)["perform_job"] is shadow
    finally:
        del rq.worker.Worker.perform_job


def test_importing_ctxcarry_does_not_import_rq() -> None:
    code = "import sys, ctxcarry, ctxcarry.kit; print('rq' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
