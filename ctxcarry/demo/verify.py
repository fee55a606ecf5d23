"""The demo's check: did every task log the context of the request that caused it?

Pure functions over the recorded :class:`~ctxcarry.demo.context.Sighting` objects,
so the verdict is about exactly what the demo printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .context import Sighting

__all__ = ["RequestRecord", "Verdict", "check", "check_without_adapter"]

#: A task run: the task's name and its attempt (``None`` where the queue does not retry).
Run = tuple[str, int | None]


@dataclass
class RequestRecord:
    """One request the demo sent, and the log events it caused on each side."""

    tenant: str
    trace_id: str
    status: int = 0
    request_id: str | None = None
    web: list[Sighting] = field(default_factory=list)
    worker: list[Sighting] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """The outcome: what was checked, and one line per problem found."""

    requests: int
    task_runs: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems


def _context_problems(where: str, seen: Sighting, record: RequestRecord) -> list[str]:
    expected = {
        "request_id": record.request_id,
        "tenant": record.tenant,
        "trace_id": record.trace_id,
    }
    actual = {"request_id": seen.request_id, "tenant": seen.tenant, "trace_id": seen.trace_id}
    return [
        f"{where}: {key} was {actual[key]!r}, expected {value!r}"
        for key, value in expected.items()
        if actual[key] != value
    ]


def _check_request(index: int, record: RequestRecord, expected: Sequence[Run]) -> list[str]:
    label = f"request {index} ({record.tenant})"
    problems = []
    if record.status != 202:
        problems.append(f"{label}: HTTP status {record.status}, expected 202")
    if not record.request_id:
        problems.append(f"{label}: the response had no X-Request-ID header")
    if not record.web:
        problems.append(f"{label}: the endpoint logged nothing")
    for seen in record.web:
        problems += _context_problems(f"{label}, web", seen, record)
    runs = sorted((s.task or "?", s.attempt) for s in record.worker)
    if runs != sorted(expected, key=lambda run: (run[0], run[1] or 0)):
        problems.append(f"{label}: task runs {runs}, expected {list(expected)}")
    for seen in record.worker:
        problems += _context_problems(f"{label}, worker task {seen.task}", seen, record)
    return problems


def check(
    records: Sequence[RequestRecord], unrelated: Sequence[Sighting], expected: Sequence[Run]
) -> Verdict:
    """Check each request's web and worker events, and the task enqueued outside requests.

    ``expected`` lists the task runs one request causes on this queue.
    """
    problems: list[str] = []
    for index, record in enumerate(records, start=1):
        problems += _check_request(index, record, expected)
    if len(unrelated) != 1:
        problems.append(f"the unrelated task logged {len(unrelated)} time(s), expected once")
    for seen in unrelated:
        leaked = _seen_context(seen)
        if leaked:
            problems.append(f"the unrelated task saw another request's context: {leaked}")
    task_runs = sum(len(r.worker) for r in records) + len(unrelated)
    return Verdict(requests=len(records), task_runs=task_runs, problems=tuple(problems))


def check_without_adapter(verdict: Verdict, record: RequestRecord) -> Verdict:
    """Add the control: with the adapter uninstalled, no task may see the request's context.

    If one did, the demo would not be showing what ctxcarry does.
    """
    problems = list(verdict.problems)
    if not record.worker:
        problems.append("without the adapter, no task logged anything")
    for seen in record.worker:
        arrived = _seen_context(seen)
        if arrived:
            problems.append(f"without the adapter, task {seen.task} still saw {arrived}")
    return Verdict(verdict.requests, verdict.task_runs, tuple(problems))


def _seen_context(seen: Sighting) -> dict[str, str]:
    """The request context a task line shows (empty when it shows none)."""
    values = (("request_id", seen.request_id), ("tenant", seen.tenant), ("trace_id", seen.trace_id))
    return {key: value for key, value in values if value is not None}
