"""install()/uninstall(): idempotent, per app, receivers that cannot be collected away."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from celery import Celery, signals
from celery.contrib.testing.worker import start_worker

from ctxcarry import Carrier, priority
from ctxcarry._queuevar import lookup
from ctxcarry.adapters.celery import HEADER, install, is_installed, uninstall
from tests.celery.apps import build_app, tenant

OUR_UID = "ctxcarry.adapters.celery"


def _published_headers(app: Celery, **options: Any) -> dict[str, Any]:
    """The headers and properties of one message published through ``app``."""
    captured: dict[str, Any] = {}

    def capture(headers: dict[str, Any], properties: dict[str, Any], **_: Any) -> None:
        captured.update(headers=dict(headers), properties=dict(properties))

    signals.before_task_publish.connect(capture, weak=False, dispatch_uid="test-install")
    try:
        app.send_task("ctx.report", **options)
    finally:
        signals.before_task_publish.disconnect(dispatch_uid="test-install")
    return captured


@pytest.fixture
def memory_app() -> Iterator[Celery]:
    """The test app on the in-memory transport (the fast path; no service needed)."""
    name = f"ctxcarry-celery-mem-{uuid.uuid4().hex[:8]}"
    app = build_app(name, "memory://", queue=name)
    app.conf.update(
        result_backend="cache+memory://",
        broker_transport_options={"polling_interval": 0.05},
    )
    yield app
    uninstall(app)
    app.close()


def test_install_twice_is_one_installation(memory_app: Celery) -> None:
    shadow = memory_app.send_task
    install(memory_app)
    install(memory_app)
    assert memory_app.send_task is shadow
    keys = [key for key, _ in signals.task_prerun.receivers if key[0] == OUR_UID]
    assert len(keys) == 1


def test_install_again_replaces_the_carrier(memory_app: Celery) -> None:
    install(memory_app, Carrier(carry_structlog=False))
    structlog.contextvars.bind_contextvars(user_id=42)
    with tenant("acme"):
        carried = _published_headers(memory_app)["headers"][HEADER]
    assert "structlog_context" not in carried
    assert carried["ctxcarry"]["vars"] == {"celery_tests.tenant": "acme"}


def test_uninstalled_and_other_apps_publish_no_carrier(memory_app: Celery) -> None:
    other = Celery(f"other-{uuid.uuid4().hex[:8]}", broker="memory://", set_as_current=False)
    with tenant("acme"), priority(5):
        assert HEADER in _published_headers(memory_app)["headers"]
        assert HEADER not in _published_headers(other)["headers"]
        uninstall(memory_app)
        published = _published_headers(memory_app)
    assert HEADER not in published["headers"]
    assert published["properties"].get("priority") is None
    assert not is_installed(memory_app)
    uninstall(memory_app)  # a second uninstall is a no-op
    other.close()


def test_receivers_survive_garbage_collection(memory_app: Celery) -> None:
    gc.collect()
    with tenant("acme"):
        assert HEADER in _published_headers(memory_app)["headers"]


def test_memory_transport_round_trip(memory_app: Celery) -> None:
    with start_worker(memory_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        with tenant("acme"):
            result = memory_app.tasks["ctx.report"].delay()
        report = result.get(timeout=10, interval=0.05)
    assert report["tenant"] == "acme"


def test_an_uninstalled_worker_app_restores_nothing(memory_app: Celery) -> None:
    with tenant("acme"):
        carried = _published_headers(memory_app)["headers"][HEADER]
    receiver = build_app(f"bare-{uuid.uuid4().hex[:8]}", "memory://", queue="bare")
    receiver.conf.result_backend = "cache+memory://"
    uninstall(receiver)
    report = receiver.tasks["ctx.report"].apply(headers={HEADER: carried}).get()
    receiver.close()
    assert report["tenant"] is None


def test_uninstall_holds_even_when_another_wrapper_keeps_ours(memory_app: Celery) -> None:
    ours = memory_app.send_task

    def someone_elses_wrapper(*args: Any, **kwargs: Any) -> Any:
        return ours(*args, **kwargs)

    memory_app.send_task = someone_elses_wrapper
    uninstall(memory_app)
    with tenant("acme"):
        assert HEADER not in _published_headers(memory_app)["headers"]
    assert memory_app.send_task is someone_elses_wrapper  # theirs is left alone


def test_install_imports_the_listed_queuevar_modules(memory_app: Celery) -> None:
    assert lookup("celery_tests.listed") is None
    install(memory_app, queuevars=["tests.celery.listed_queuevars"])
    assert lookup("celery_tests.listed") is not None
    with pytest.raises(ModuleNotFoundError):
        install(memory_app, queuevars=["tests.celery.no_such_module"])
