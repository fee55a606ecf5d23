"""install() refuses a flagsmith-common that lacks what the adapter patches, naming its version."""

from __future__ import annotations

import importlib.metadata

import pytest
from task_processor import decorators, models, processor

from ctxcarry.adapters.task_processor import install, is_installed
from ctxcarry.adapters.task_processor.compat import (
    UnsupportedTaskProcessorError,
    missing_internals,
)


def test_the_installed_task_processor_has_every_internal_the_adapter_uses() -> None:
    assert missing_internals() == []


@pytest.mark.parametrize(
    ("owner", "name", "named"),
    [
        (processor, "_run_task", "task_processor.processor._run_task"),
        (models.AbstractBaseTask, "run", "task_processor.models.AbstractBaseTask.run"),
        (decorators, "Thread", "task_processor.decorators.Thread"),
    ],
)
@pytest.mark.usefixtures("without_adapter")
def test_install_fails_loudly_naming_the_version_when_an_internal_is_missing(
    owner: object, name: str, named: str
) -> None:
    with pytest.MonkeyPatch.context() as patch:  # undone before the fixture reinstalls
        patch.delattr(owner, name)

        with pytest.raises(UnsupportedTaskProcessorError) as raised:
            install()

        assert not is_installed()
    message = str(raised.value)
    assert f"flagsmith-common {importlib.metadata.version('flagsmith-common')}" in message
    assert named in message
    assert "flagsmith-common >= 3.16" in message
