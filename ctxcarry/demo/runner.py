"""Run the demo: start both sides, send the requests, wait for the tasks, print the verdict."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from .context import Sighting, capture_logs
from .verify import EXPECTED_TASK_RUNS, RequestRecord, Verdict, check
from .web import TENANT_HEADER, make_web_app
from .worker import DemoTasks, make_app, running_worker

__all__ = ["run"]

TENANTS = ("acme", "globex", "initech")
#: Longest wait for the tasks one request causes.
TASK_WAIT = 5.0
_POLL = 0.02


def _traceparent() -> tuple[str, str]:
    """A new W3C traceparent, as a traced client would send it, and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def _wait_for_worker_events(sightings: Callable[[], list[Sighting]], count: int) -> None:
    deadline = time.monotonic() + TASK_WAIT
    while time.monotonic() < deadline:
        if sum(1 for s in sightings() if s.side == "worker") >= count:
            return
        time.sleep(_POLL)


async def _send_requests(
    web_app: Any, sightings: Callable[[], list[Sighting]], out: TextIO
) -> list[RequestRecord]:
    records = []
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        for index, tenant in enumerate(TENANTS, start=1):
            traceparent, trace_id = _traceparent()
            record = RequestRecord(tenant=tenant, trace_id=trace_id)
            before = len(sightings())
            worker_before = sum(1 for s in sightings() if s.side == "worker")
            response = await client.post(
                f"/reports/q{index}-{tenant}",
                headers={TENANT_HEADER: tenant, "traceparent": traceparent},
            )
            record.status = response.status_code
            record.request_id = response.headers.get("x-request-id")
            await asyncio.to_thread(
                _wait_for_worker_events, sightings, worker_before + len(EXPECTED_TASK_RUNS)
            )
            caused = sightings()[before:]
            record.web = [s for s in caused if s.side == "web"]
            record.worker = [s for s in caused if s.side == "worker"]
            records.append(record)
            out.write("\n")
    return records


def _run_unrelated_task(
    tasks: DemoTasks, sightings: Callable[[], list[Sighting]]
) -> list[Sighting]:
    before = len(sightings())
    worker_before = sum(1 for s in sightings() if s.side == "worker")
    tasks.housekeeping.delay()
    _wait_for_worker_events(sightings, worker_before + 1)
    return [s for s in sightings()[before:] if s.side == "worker"]


def _shown(broker: str) -> str:
    """The broker URL without its password, for printing."""
    parts = urlsplit(broker)
    if parts.password is None:
        return broker
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _summary(verdict: Verdict, broker: str, elapsed: float) -> str:
    nested = retries = verdict.requests
    if verdict.ok:
        return (
            f"ctxcarry demo: OK - {verdict.requests} requests, {verdict.task_runs} task runs "
            f"({nested} nested, {retries} retried) on {broker}: every task logged the "
            f"request_id, tenant and trace_id of its request; the unrelated task saw none "
            f"({elapsed:.1f} s)"
        )
    lines = "\n".join(f"  - {problem}" for problem in verdict.problems)
    return (
        f"{lines}\nctxcarry demo: FAILED - {len(verdict.problems)} problem(s): the context did "
        f"not arrive as sent ({elapsed:.1f} s)"
    )


def _check_broker(app: Any, broker: str) -> str | None:
    """``None`` when the broker answers, else a one-line reason."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"cannot reach the broker {broker}: {type(exc).__name__}: {str(exc)[:160]}"
    return None


def run(broker: str, out: TextIO | None = None) -> int:
    """Run the demo against ``broker``; print to ``out`` (stdout); return the exit status.

    The demo's Celery app becomes Celery's current and default app in this
    process (its worker needs that); run it in a process of its own.
    """
    out = out or sys.stdout
    started = time.monotonic()
    app, tasks = make_app(broker)
    broker = _shown(broker)
    problem = _check_broker(app, broker)
    if problem is not None:
        sys.stderr.write(f"ctxcarry demo: error: {problem}\n")
        return 1
    where = "in this process" if broker.startswith("memory://") else "worker in this process"
    out.write(
        f"ctxcarry demo: a Starlette app with ContextMiddleware and a Celery worker "
        f"(broker {broker}, {where}).\n"
        f"Each line: side, tenant, request_id, trace_id (both ids shortened), event.\n\n"
    )
    out.flush()
    with capture_logs(out) as sightings, running_worker(app):
        web_app = make_web_app(tasks)
        records = asyncio.run(_send_requests(web_app, sightings, out))
        unrelated = _run_unrelated_task(tasks, sightings)
        verdict = check(records, unrelated)
    out.write("\n" + _summary(verdict, broker, time.monotonic() - started) + "\n")
    out.flush()
    return 0 if verdict.ok else 1
