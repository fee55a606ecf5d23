"""The built package: wheel and sdist contents, and a clean install with each extra.

Slow (it builds the package and creates one virtualenv per extra), so it is
marked ``packaging``: ``pytest -m "not packaging"`` leaves it out locally; CI
runs it. pip uses the machine's configured indexes and its cache.
"""

from __future__ import annotations

import sys
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import ctxcarry
from tests.packaging.venvs import clean_env, fresh_venv, pip_install, run

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
VERSION = ctxcarry.__version__
DIST_INFO = f"ctxcarry-{VERSION}.dist-info/"
FRAMEWORKS = ("celery", "kombu", "django", "starlette", "task_processor", "httpx")


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build``: one wheel and one sdist, as a release would make them."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, REPO], cwd=REPO, timeout=600)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dists(wheel, sdist)


def wheel_names(dists: Dists) -> list[str]:
    with zipfile.ZipFile(dists.wheel) as archive:
        return archive.namelist()


def test_wheel_contains_only_ctxcarry(dists: Dists) -> None:
    assert dists.wheel.name == f"ctxcarry-{VERSION}-py3-none-any.whl"
    strays = [n for n in wheel_names(dists) if not n.startswith(("ctxcarry/", DIST_INFO))]
    assert strays == []


def test_wheel_ships_every_module_and_the_type_marker(dists: Dists) -> None:
    names = set(wheel_names(dists))
    sources = {
        f"ctxcarry/{path.relative_to(REPO / 'ctxcarry').as_posix()}"
        for path in (REPO / "ctxcarry").rglob("*.py")
    } | {
        f"ctxcarry/adapters/{path.relative_to(REPO / 'adapters').as_posix()}"
        for path in (REPO / "adapters").rglob("*.py")
    }
    assert sorted(sources - names) == []
    assert "ctxcarry/py.typed" in names


def test_wheel_metadata(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as archive:
        metadata = archive.read(f"{DIST_INFO}METADATA").decode()
        entry_points = archive.read(f"{DIST_INFO}entry_points.txt").decode()
    assert f"Version: {VERSION}" in metadata
    for extra in ("celery", "django", "starlette", "task-processor"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "ctxcarry = ctxcarry.cli:main" in entry_points
    assert "ctxcarry.testing" in entry_points  # the pytest plugin (pytest11)


def test_sdist_has_the_sources_to_rebuild(dists: Dists) -> None:
    # python -m build made the wheel from this sdist; check it is complete for packagers too.
    with tarfile.open(dists.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for required in ("pyproject.toml", "README.md", "ctxcarry/__init__.py", "ctxcarry/py.typed"):
        assert required in names
    modules = {n.removeprefix("ctxcarry/") for n in wheel_names(dists) if n.endswith(".py")}
    shipped = {n.removeprefix("ctxcarry/") for n in names}  # adapters/ sits beside ctxcarry/
    assert sorted(modules - shipped) == []


#: What each extra must make importable, run in the fresh virtualenv.
CHECKS = {
    "core": """
        import sys
        import ctxcarry, ctxcarry.testing, ctxcarry.inspection, ctxcarry.cli
        loaded = sorted(set(sys.modules) & {FRAMEWORKS})
        assert not loaded, loaded
        with ctxcarry.QueueVar("pkg_core", default=None)("x"):
            assert ctxcarry.inject()["ctxcarry"]["vars"] == {{"pkg_core": "x"}}
    """,
    "celery": """
        from celery import Celery
        from ctxcarry.adapters.celery import install, is_installed
        app = Celery("pkg", set_as_current=False)
        install(app)
        assert is_installed(app)
    """,
    "starlette": """
        from starlette.applications import Starlette
        from ctxcarry.adapters.starlette import ContextMiddleware
        ContextMiddleware(Starlette())
    """,
    "django": """
        import django
        from django.conf import settings
        settings.configure(
            INSTALLED_APPS=["ctxcarry.adapters.django"],
            MIDDLEWARE=["ctxcarry.adapters.django.ContextMiddleware"],
        )
        django.setup()
        from ctxcarry.adapters.django import ContextIdentityMiddleware, ContextMiddleware
    """,
    "task-processor": """
        import django
        from django.conf import settings
        settings.configure(
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "task_processor",
                "ctxcarry.adapters.task_processor",
            ],
            DATABASES={{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "x"}}}},
            # What flagsmith-common's task processor reads at import (see tests/settings.py).
            TASK_RUN_METHOD="TASK_PROCESSOR",
            TASK_PROCESSOR_MODE=True,
            DOCGEN_MODE=False,
            TASK_PROCESSOR_DATABASES=["default"],
            ENABLE_TASK_PROCESSOR_HEALTH_CHECK=False,
        )
        django.setup()
        import ctxcarry.adapters.task_processor as adapter
        assert adapter.is_installed()
    """,
}


@pytest.mark.parametrize("extra", list(CHECKS))
def test_clean_install_with_each_extra(
    dists: Dists, extra: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    python = fresh_venv(tmp_path_factory.mktemp(f"venv-{extra}"))
    requirement = (
        str(dists.wheel) if extra == "core" else f"ctxcarry[{extra}] @ {dists.wheel.as_uri()}"
    )
    pip_install(python, requirement)
    script = textwrap.dedent(CHECKS[extra]).format(FRAMEWORKS=set(FRAMEWORKS))
    if extra == "task-processor" and sys.version_info < (3, 11):
        # flagsmith-common needs 3.11: the extra's markers make it install, and bring nothing.
        script = "import importlib.util as u; assert u.find_spec('task_processor') is None"
    # Run outside the repository, so only the installed wheel can be imported.
    run([python, "-c", script], cwd=python.parent, timeout=120, env=clean_env())


def test_newcomer_runs_the_demo_and_inspect_from_a_clean_install(
    dists: Dists, tmp_path_factory: pytest.TempPathFactory
) -> None:
    python = fresh_venv(tmp_path_factory.mktemp("venv-demo"))
    pip_install(python, f"ctxcarry[demo] @ {dists.wheel.as_uri()}")
    bin_dir = python.parent
    demo = run([bin_dir / "ctxcarry", "demo"], cwd=bin_dir, timeout=60, env=clean_env())
    assert demo.stdout.splitlines()[-1].startswith("ctxcarry demo: OK")
    carrier = '{"structlog_context": {"request_id": "r-1"}, "ctxcarry": {"v": 1, "vars": {}}}'
    inspect = run(
        [bin_dir / "ctxcarry", "inspect", "-"], input=carrier, cwd=bin_dir, env=clean_env()
    )
    assert 'request_id = "r-1"' in inspect.stdout
