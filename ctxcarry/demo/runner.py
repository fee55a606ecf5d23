"""Run the demo: start both sides, send the requests, wait for the tasks, print the verdict."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from .context import Sighting, capture_logs
from .queues import DemoQueue, open_queue
from .verify import RequestRecord, Verdict, check, check_without_adapter
from .web import TENANT_HEADER, make_web_app

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
    web_app: Any,
    tenants: Sequence[str],
    expected: Sequence[tuple[str, int | None]],
    sightings: Callable[[], list[Sighting]],
    out: TextIO,
) -> list[RequestRecord]:
    order = _journey_order(expected)
    records = []
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        for index, tenant in enumerate(tenants, start=1):
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
                _wait_for_worker_events, sightings, worker_before + len(expected)
            )
            caused = sightings()[before:]
            record.web = [s for s in caused if s.side == "web"]
            record.worker = [s for s in caused if s.side == "worker"]
            records.append(record)
            _print(out, record.web + sorted(record.worker, key=order))
    return records


def _print(out: TextIO, lines: Sequence[Sighting]) -> None:
    """One paragraph: the lines, then a blank line."""
    out.write("".join(f"{seen.line}\n" for seen in lines) + "\n")
    out.flush()


def _journey_order(expected: Sequence[tuple[str, int | None]]) -> Callable[[Sighting], int]:
    """Sort key: a task line's position in the journey (unknown lines last)."""
    positions = {run: index for index, run in enumerate(expected)}
    return lambda seen: positions.get((seen.task or "", seen.attempt), len(positions))


def _run_unrelated_task(
    queue: DemoQueue, sightings: Callable[[], list[Sighting]]
) -> list[Sighting]:
    before = len(sightings())
    worker_before = sum(1 for s in sightings() if s.side == "worker")
    queue.enqueue_unrelated()
    _wait_for_worker_events(sightings, worker_before + 1)
    return [s for s in sightings()[before:] if s.side == "worker"]


def _shown(broker: str) -> str:
    """The broker URL without its password, for printing."""
    parts = urlsplit(broker)
    if parts.password is None:
        return broker
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _summary(verdict: Verdict, where: str, elapsed: float) -> str:
    if verdict.ok:
        return (
            f"ctxcarry demo: OK - {verdict.requests} requests, {verdict.task_runs} task runs "
            f"on {where}: every task logged the request_id, tenant and trace_id of its "
            f"request; the unrelated task saw none; without the adapter, none arrived "
            f"({elapsed:.1f} s)"
        )
    lines = "\n".join(f"  - {problem}" for problem in verdict.problems)
    return (
        f"{lines}\nctxcarry demo: FAILED - {len(verdict.problems)} problem(s): the context did "
        f"not arrive as sent ({elapsed:.1f} s)"
    )


def run(queue_name: str = "celery", broker: str | None = None, out: TextIO | None = None) -> int:
    """Run the demo on ``queue_name``; print to ``out`` (stdout); return the exit status.

    The demo's worker runs in this process (a Celery app becomes Celery's
    current and default app): run it in a process of its own.
    """
    out = out or sys.stdout
    started = time.monotonic()
    queue = open_queue(queue_name, broker)
    where = f"{queue_name} ({_shown(queue.broker) if queue.broker else 'in memory'})"
    problem = _check_broker(queue)
    if problem is not None:
        sys.stderr.write(f"ctxcarry demo: error: {problem}\n")
        return 1
    out.write(
        f"ctxcarry demo: a Starlette app with ContextMiddleware and {queue.description} "
        f"on {where}.\n"
        f"Each line: side, tenant, request_id, trace_id (both ids shortened), event.\n\n"
    )
    out.flush()
    expected = queue.expected_runs
    with capture_logs() as sightings, queue.running():
        web_app = make_web_app(queue)
        records = asyncio.run(_send_requests(web_app, TENANTS, expected, sightings, out))
        unrelated = _run_unrelated_task(queue, sightings)
        _print(out, unrelated)
        out.write("Without ctxcarry (the adapter uninstalled), the same request:\n")
        queue.adapter_installed(False)
        [without] = asyncio.run(_send_requests(web_app, TENANTS[:1], expected, sightings, out))
        verdict = check(records, unrelated, queue.expected_runs)
        verdict = check_without_adapter(verdict, without)
    out.write(_summary(verdict, where, time.monotonic() - started) + "\n")
    out.flush()
    return 0 if verdict.ok else 1


def _check_broker(queue: DemoQueue) -> str | None:
    """``None`` when the queue's broker answers, else a one-line reason."""
    try:
        queue.check_broker()
    except ConnectionError as exc:
        return f"cannot reach the broker {_shown(queue.broker)}: {exc}"
    return None
