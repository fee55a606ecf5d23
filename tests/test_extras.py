"""Extras: a skip only where pip cannot install one; under CI a missing installable one fails."""

from __future__ import annotations

import pytest
from packaging.version import Version

from tests import extras

TP = extras.TASK_PROCESSOR


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The task processor is not installed; Python 3.11, Django 5.2, OTel API 1.45 are."""
    monkeypatch.setattr(extras, "installed", lambda extra: False)
    monkeypatch.setattr(extras, "PYTHON", (3, 11, 7))
    versions = {"django": Version("5.2.19"), "opentelemetry-api": Version("1.45.2")}
    monkeypatch.setattr(extras, "_version", versions.get)
    monkeypatch.delenv("CI", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("distribution", "version", "reason"),
    [
        ("django", "6.1.3", "flagsmith-common needs Django < 6 (installed: 6.1.3)"),
        ("opentelemetry-api", "1.20.0", "needs opentelemetry-api >= 1.25 (installed: 1.20.0)"),
    ],
)
def test_not_installable_next_to_what_is_installed_skips_with_the_reason(
    missing: pytest.MonkeyPatch, distribution: str, version: str, reason: str
) -> None:
    versions = {"django": Version("5.2.19"), "opentelemetry-api": Version("1.45.2")}
    versions[distribution] = Version(version)
    missing.setattr(extras, "_version", versions.get)
    missing.setenv("CI", "true")  # not installable: a skip even in CI
    message = extras.missing_reason(TP)
    assert message is not None
    assert message.startswith("needs the task-processor extra, not installable here: ")
    assert reason in message


def test_python_3_10_cannot_install_the_task_processor(missing: pytest.MonkeyPatch) -> None:
    missing.setattr(extras, "PYTHON", (3, 10, 13))
    missing.setenv("CI", "true")
    message = extras.missing_reason(TP)
    assert message is not None
    assert "flagsmith-common needs Python >= 3.11 (this is 3.10.13)" in message


def test_installable_but_missing_skips_locally(missing: pytest.MonkeyPatch) -> None:
    assert extras.missing_reason(TP) == (
        'needs the task-processor extra: pip install -e ".[task-processor]"'
    )


def test_installable_but_missing_fails_under_ci(missing: pytest.MonkeyPatch) -> None:
    missing.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: an installable extra"):
        extras.missing_reason(TP)


def test_installed_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extras, "installed", lambda extra: True)
    monkeypatch.setenv("CI", "true")
    assert extras.missing_reason(TP) is None
