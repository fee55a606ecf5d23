"""End to end: a request enqueues a real task; the worker logs the request's request_id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from tests.web.support import LogCapture

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def celery_worker_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real Celery worker process (solo pool) on Redis DB 12; yields its JSON log file."""
    from tests import services

    services.require("Redis", services.REDIS_URL)
    from tests.web.celery_e2e_app import BROKER_URL, LOG_PATH_VARIABLE, QUEUE

    log_path = tmp_path_factory.mktemp("web-e2e") / "worker.jsonl"
    log_path.touch()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.web.celery_e2e_app",
            "worker",
            "--pool=solo",
            "-Q",
            QUEUE,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=REPO,
        env={**os.environ, LOG_PATH_VARIABLE: str(log_path)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield log_path
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        services.delete_keys(BROKER_URL, f"*{QUEUE}*")


def wait_for_line(log_path: Path, note: str) -> dict[str, Any]:
    """The worker's log line for ``note`` (fails after WAIT_SECONDS)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for line in log_path.read_text().splitlines():
            event = json.loads(line)
            if event.get("note") == note:
                return event
        time.sleep(0.1)
    raise AssertionError(f"the worker never logged note {note!r}")


@pytest.mark.anyio
async def test_starlette_request_to_celery_worker(celery_worker_log: Path) -> None:
    from tests.web.e2e_views import starlette_celery_app

    note = uuid.uuid4().hex
    transport = httpx.ASGITransport(app=starlette_celery_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/celery", params={"note": note}, headers={"X-Tenant": "acme"})
    event = wait_for_line(celery_worker_log, note)
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["tenant"] == "acme"


def test_django_request_to_celery_worker(settings: Any, celery_worker_log: Path) -> None:
    settings.MIDDLEWARE = ["ctxcarry.adapters.django.ContextMiddleware"]
    settings.ROOT_URLCONF = "tests.web.e2e_views"
    settings.CTXCARRY = {"BIND": "tests.web.django_views.bind_tenant"}
    note = uuid.uuid4().hex
    response = Client().get("/celery", {"note": note}, headers={"X-Tenant": "globex"})
    event = wait_for_line(celery_worker_log, note)
    assert event["request_id"] == response.headers["X-Request-ID"]
    assert event["tenant"] == "globex"


@pytest.mark.extra("task-processor")
def test_django_request_to_task_processor(
    settings: Any, run_tasks: Any, logs: LogCapture, postgres_available: None
) -> None:
    settings.MIDDLEWARE = ["ctxcarry.adapters.django.ContextMiddleware"]
    settings.ROOT_URLCONF = "tests.web.e2e_views"
    settings.CTXCARRY = {"BIND": "tests.web.django_views.bind_tenant"}
    note = uuid.uuid4().hex
    response = Client().get("/task-processor", {"note": note}, headers={"X-Tenant": "initech"})
    assert response.status_code == 200
    [run] = run_tasks()
    assert run.result == "SUCCESS"
    [event] = [e for e in logs.named("task processor task ran") if e.get("note") == note]
    assert event["request_id"] == response.headers["X-Request-ID"]
    assert event["tenant"] == "initech"
