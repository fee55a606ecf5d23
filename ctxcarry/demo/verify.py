"""The demo's check: did every task log the context of the request that caused it?

Pure functions over the recorded :class:`~ctxcarry.demo.context.Sighting` objects,
so the verdict is about exactly what the demo printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .context import Sighting

__all__ = ["EXPECTED_TASK_RUNS", "RequestRecord", "Verdict", "check"]

#: The task runs one request causes: its two tasks, the nested task, and the retry.
EXPECTED_TASK_RUNS = (("build_report", None), ("notify", None), ("export", 1), ("export", 2))


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


def _check_request(index: int, record: RequestRecord) -> list[str]:
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
    if runs != sorted(EXPECTED_TASK_RUNS, key=lambda run: (run[0], run[1] or 0)):
        problems.append(f"{label}: task runs {runs}, expected {list(EXPECTED_TASK_RUNS)}")
    for seen in record.worker:
        problems += _context_problems(f"{label}, worker task {seen.task}", seen, record)
    return problems


def check(records: Sequence[RequestRecord], unrelated: Sequence[Sighting]) -> Verdict:
    """Check each request's web and worker events, and the task enqueued outside requests."""
    problems: list[str] = []
    for index, record in enumerate(records, start=1):
        problems += _check_request(index, record)
    if len(unrelated) != 1:
        problems.append(f"the unrelated task logged {len(unrelated)} time(s), expected once")
    for seen in unrelated:
        leaked = {
            key: value
            for key, value in (
                ("request_id", seen.request_id),
                ("tenant", seen.tenant),
                ("trace_id", seen.trace_id),
            )
            if value is not None
        }
        if leaked:
            problems.append(f"the unrelated task saw another request's context: {leaked}")
    task_runs = sum(len(r.worker) for r in records) + len(unrelated)
    return Verdict(requests=len(records), task_runs=task_runs, problems=tuple(problems))
