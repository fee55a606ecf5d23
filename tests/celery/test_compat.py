"""install() refuses a Celery that lacks the internals the adapter relies on, naming its version."""

from __future__ import annotations

import importlib.metadata
import uuid

import pytest
from celery import Celery, signals
from celery.app.task import Context

from ctxcarry.adapters.celery import install, is_installed
from ctxcarry.adapters.celery.compat import UnsupportedCeleryError, missing_internals


def test_the_installed_celery_has_every_internal_the_adapter_uses() -> None:
    assert missing_internals() == []


@pytest.mark.parametrize(
    ("owner", "name", "named"),
    [
        (Context, "is_eager", "celery.app.task.Context.is_eager"),
        (Context, "headers", "celery.app.task.Context.headers"),
        (signals, "task_prerun", "celery.signals.task_prerun"),
    ],
)
def test_install_fails_loudly_naming_the_version_when_an_internal_is_missing(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, named: str
) -> None:
    app = Celery(f"ctxcarry-compat-{uuid.uuid4().hex[:8]}", set_as_current=False)
    monkeypatch.delattr(owner, name)

    with pytest.raises(UnsupportedCeleryError) as raised:
        install(app)

    message = str(raised.value)
    assert f"Celery {importlib.metadata.version('celery')}" in message
    assert named in message
    assert "Celery >= 5.3" in message
    assert not is_installed(app)
