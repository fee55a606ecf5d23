"""``ctxcarry demo``: it runs, it shows the same context on both sides, it fails loudly."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis

from ctxcarry.demo.context import Sighting
from ctxcarry.demo.journey import EXPECTED_RUNS, EXPECTED_RUNS_WITHOUT_RETRY
from ctxcarry.demo.verify import RequestRecord, check
from tests.cli.conftest import REPO, run_cli

#: The issue's promise: the demo finishes in under 15 seconds.
DEMO_TIMEOUT = 15
LINE = re.compile(
    r"^(?P<side>web|worker) +(?P<tenant>\S+) +request_id=(?P<request_id>\S+) +"
    r"trace_id=(?P<trace_id>\S+) +(?P<event>.+)$"
)


needs_django_tasks = pytest.mark.skipif(
    importlib.util.find_spec("django_tasks_db") is None,
    reason="django-tasks-db is not installed here; its tests run elsewhere (tests/conftest.py)",
)


def on(queue: str, module: str) -> object:
    """A demo queue as a test parameter, skipped where its framework runs elsewhere."""
    return pytest.param(
        queue,
        marks=pytest.mark.skipif(
            importlib.util.find_spec(module) is None,
            reason=f"{module} is not installed here; its tests run elsewhere (tests/conftest.py)",
        ),
    )


def parse_paragraphs(output: str) -> list[list[dict[str, str]]]:
    """The demo's log lines, grouped by the blank lines between requests."""
    paragraphs: list[list[dict[str, str]]] = [[]]
    for line in output.splitlines():
        if not line.strip():
            paragraphs.append([])
        elif match := LINE.match(line):
            paragraphs[-1].append(match.groupdict())
    return [p for p in paragraphs if p]


def assert_same_context_on_both_sides(
    output: str, expected_runs: Sequence[tuple[str, int | None]] = EXPECTED_RUNS
) -> None:
    """Each request's task lines carry its context; the unrelated task and the control none.

    ``expected_runs`` is the queue's journey: with a retry (an attempt 2) the
    retry's two lines must be there, without one no line may say it retries.
    """
    retries = any(attempt == 2 for _, attempt in expected_runs)
    paragraphs = parse_paragraphs(output)
    *requests, without = [p for p in paragraphs if p[0]["side"] == "web"]
    assert len(requests) == 3
    tenants = set()
    for paragraph in requests:
        web = paragraph[0]
        workers = [line for line in paragraph if line["side"] == "worker"]
        assert len(workers) == len(expected_runs)
        for line in workers:
            for key in ("tenant", "request_id", "trace_id"):
                assert line[key] == web[key], (key, line, web)
        assert any("enqueued by a task" in line["event"] for line in workers)
        if retries:
            assert any("retrying" in line["event"] for line in workers)
            assert any("attempt 2" in line["event"] for line in workers)
        else:
            assert not any("retrying" in line["event"] for line in workers)
        tenants.add(web["tenant"])
    assert len(tenants) == 3
    unrelated = paragraphs[3]
    assert [(u["tenant"], u["request_id"], u["trace_id"]) for u in unrelated] == [("-", "-", "-")]
    # The control, printed after "Without ctxcarry": the same journey, no context on the worker.
    assert "Without ctxcarry" in output
    assert without[0]["tenant"] == "acme"
    without_worker = [line for line in without if line["side"] == "worker"]
    assert len(without_worker) == len(expected_runs)
    assert {(w["tenant"], w["request_id"], w["trace_id"]) for w in without_worker} == {
        ("-", "-", "-")
    }


def journey_lines(output: str) -> list[str]:
    """The demo's lines with the ids blanked: what must be the same in every run."""
    return [
        re.sub(r"(request_id|trace_id)=\S+", r"\1=*", line)
        for line in output.splitlines()
        if LINE.match(line)
    ]


def assert_no_key_left(client: redis.Redis, before: set[bytes], pattern: str) -> None:
    """No key matching ``pattern`` is left that was not there before the demo ran.

    A concurrent test run (its own demo on the same database) may hold keys of its own
    for a while; they go when its demo ends, while a key this demo leaked stays. So the
    new keys are given the length of a demo run to disappear.
    """
    deadline = time.monotonic() + DEMO_TIMEOUT
    while (left := set(client.keys(pattern)) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == set()


def test_demo_shows_the_same_context_on_both_sides() -> None:
    result = run_cli("demo", timeout=DEMO_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_context_on_both_sides(result.stdout)
    assert result.stdout.splitlines()[-1].startswith("ctxcarry demo: OK - 3 requests, 13 task runs")


@needs_django_tasks
def test_demo_on_django_tasks_shows_the_same_context_on_both_sides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The demo configures Django itself; pytest-django's settings module is not for it.
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    result = run_cli("demo", "--queue", "django-tasks", timeout=DEMO_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_context_on_both_sides(result.stdout, EXPECTED_RUNS_WITHOUT_RETRY)
    last = result.stdout.splitlines()[-1]
    assert last.startswith("ctxcarry demo: OK - 3 requests, 10 task runs"), last
    # The tasks waited in a temporary SQLite database: gone once the demo is done.
    database = re.search(r"\(sqlite:///(\S+)\)", last)
    assert database is not None, last
    assert not Path(database[1]).parent.exists()


@needs_django_tasks
def test_demo_on_django_tasks_in_a_configured_django_process_is_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")
    result = run_cli("demo", "--queue", "django-tasks", timeout=DEMO_TIMEOUT)
    assert result.returncode == 1
    assert result.stderr.startswith("ctxcarry demo: error: the django-tasks demo configures")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def _has_a_django_tasks_framework() -> bool:
    """The demo's Django tasks queue is written on the ``django-tasks`` package."""
    return importlib.util.find_spec("django_tasks") is not None


@pytest.mark.skipif(
    not _has_a_django_tasks_framework(),
    reason="no django-tasks here (the pinned sessions): nothing to name",
)
def test_demo_on_django_tasks_without_its_database_backend_names_the_package() -> None:
    # django-tasks-db is not in the django-tasks extra (the backend is the user's choice).
    script = (
        "import sys\n"
        "sys.modules['django_tasks_db'] = None\n"
        "from ctxcarry.cli import main\n"
        "sys.exit(main(['demo', '--queue', 'django-tasks']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ctxcarry demo: error: the demo on django-tasks needs")
    assert "django-tasks-db" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("queue", [on("dramatiq", "dramatiq"), on("taskiq", "taskiq")])
def test_demo_on_an_in_memory_queue_shows_the_same_context_on_both_sides(queue: str) -> None:
    result = run_cli("demo", "--queue", queue, timeout=DEMO_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_context_on_both_sides(result.stdout)
    assert result.stdout.splitlines()[-1].startswith(
        f"ctxcarry demo: OK - 3 requests, 13 task runs on {queue} (in memory)"
    )


@pytest.mark.parametrize("queue", [on("arq", "arq"), on("rq", "rq"), on("dramatiq", "dramatiq")])
def test_demo_on_a_redis_queue_shows_the_context_and_leaves_no_keys(
    queue: str, redis_db_url: str
) -> None:
    client = redis.Redis.from_url(redis_db_url)
    before = set(client.keys("*ctxcarry-demo-*"))
    result = run_cli("demo", "--queue", queue, "--broker", redis_db_url, timeout=DEMO_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_context_on_both_sides(result.stdout)
    assert_no_key_left(client, before, "*ctxcarry-demo-*")
    client.close()


def test_demo_prints_the_journey_in_the_same_order_every_time() -> None:
    first, second = (run_cli("demo", timeout=DEMO_TIMEOUT) for _ in range(2))
    assert first.returncode == second.returncode == 0
    assert journey_lines(first.stdout) == journey_lines(second.stdout)


def test_demo_on_a_real_broker_leaves_no_keys_behind(redis_db_url: str) -> None:
    client = redis.Redis.from_url(redis_db_url)
    before = set(client.keys("*"))
    result = run_cli("demo", "--broker", redis_db_url, timeout=DEMO_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_context_on_both_sides(result.stdout)
    assert_no_key_left(client, before, "*")
    client.close()


def test_demo_piped_into_head_exits_without_a_traceback() -> None:
    command = f"{sys.executable} -m ctxcarry demo | head -n 2"
    result = subprocess.run(
        command, shell=True, capture_output=True, text=True, cwd=REPO, timeout=DEMO_TIMEOUT
    )
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr


def test_demo_without_its_packages_is_one_line_naming_the_extra() -> None:
    # What a plain `pip install ctxcarry` gives: httpx and Starlette are missing.
    script = (
        "import sys\n"
        "sys.modules['httpx'] = None\n"
        "from ctxcarry.cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ctxcarry demo: error: the demo needs ctxcarry[demo]")
    assert result.stderr.count("\n") == 1


def test_demo_fails_when_the_context_does_not_arrive() -> None:
    # The same demo with the Celery adapter left out: the worker sees no context.
    script = (
        "import sys, ctxcarry.adapters.celery as adapter\n"
        "adapter.install = lambda app, carrier=None: None\n"
        "from ctxcarry.cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    last = result.stdout.splitlines()[-1]
    assert last.startswith("ctxcarry demo: FAILED")
    assert "request_id was None, expected" in result.stdout


def test_unreachable_broker_is_one_line_error() -> None:
    result = run_cli("demo", "--broker", "redis://127.0.0.1:1/0", timeout=DEMO_TIMEOUT)
    assert result.returncode == 1
    assert result.stderr.startswith("ctxcarry demo: error: cannot reach the broker")
    assert result.stderr.count("\n") == 1


def sighting(side: str, record: RequestRecord, **changes: object) -> Sighting:
    values: dict[str, object] = {
        "request_id": record.request_id,
        "tenant": record.tenant,
        "trace_id": record.trace_id,
    }
    values.update(changes)
    return Sighting(side=side, event="e", **values)  # type: ignore[arg-type]


def complete_record() -> RequestRecord:
    record = RequestRecord(tenant="acme", trace_id="a" * 32, status=202, request_id="r1")
    record.web = [sighting("web", record)]
    record.worker = [
        sighting("worker", record, task=task, attempt=attempt) for task, attempt in EXPECTED_RUNS
    ]
    return record


def unrelated() -> list[Sighting]:
    return [Sighting("worker", "housekeeping", None, None, None, task="housekeeping")]


def test_verdict_accepts_a_complete_run() -> None:
    verdict = check([complete_record()], unrelated(), EXPECTED_RUNS)
    assert verdict.ok
    assert verdict.task_runs == len(EXPECTED_RUNS) + 1


@pytest.mark.parametrize("key", ["request_id", "tenant", "trace_id"])
def test_verdict_catches_a_wrong_value_on_the_worker(key: str) -> None:
    record = complete_record()
    record.worker[2] = sighting("worker", record, task="export", attempt=1, **{key: "other"})
    verdict = check([record], unrelated(), EXPECTED_RUNS)
    assert not verdict.ok
    assert verdict.problems == (
        f"request 1 (acme), worker task export: {key} was 'other', expected "
        f"{getattr(record, key)!r}",
    )


def test_verdict_catches_a_missing_retry_and_a_leak() -> None:
    record = complete_record()
    record.worker.pop()  # the retry never ran
    leaked = [Sighting("worker", "housekeeping", "r1", "acme", None, task="housekeeping")]
    problems = check([record], leaked, EXPECTED_RUNS).problems
    assert any("task runs" in problem for problem in problems)
    assert any("the unrelated task saw another request's context" in p for p in problems)


def test_demo_output_groups_lines_by_request() -> None:
    # The parser the tests rely on, on a hand-made transcript.
    by_side: defaultdict[str, int] = defaultdict(int)
    output = (
        "web    acme    request_id=abc trace_id=def  POST\n"
        "worker acme    request_id=abc trace_id=def  build\n\n"
        "worker -       request_id=-   trace_id=-    housekeeping\n"
    )
    for paragraph in parse_paragraphs(output):
        for line in paragraph:
            by_side[line["side"]] += 1
    assert dict(by_side) == {"web": 1, "worker": 2}
