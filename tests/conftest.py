"""Fixtures shared by every test: OTel tracing, clean structlog state, services."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests import extras, services

#: Each queue adapter's test directory and the framework it needs. arq pins redis-py below
#: 6, which the other queues' test dependencies refuse: its tests run in an environment of
#: their own (``.[test-arq]``, built by ``.ci/run``). The matrix's pinned sessions (noxfile.py)
#: test the core at its floors without the queue adapters, which need newer frameworks.
QUEUE_TESTS = {
    "arq": "arq",
    "rq": "rq",
    "dramatiq": "dramatiq",
    "taskiq": "taskiq",
    "django_tasks": "django_tasks_db",
}
QUEUES_ABSENT = sorted(
    directory
    for directory, module in QUEUE_TESTS.items()
    if importlib.util.find_spec(module) is None
)
#: The examples and the FastAPI test follow the newest releases: they run where the full test
#: toolchain is installed (.[dev], the tests-3.x sessions), not in the pinned sessions.
FULL_TOOLCHAIN = importlib.util.find_spec("fastapi") is not None
collect_ignore = list(QUEUES_ABSENT) + (
    [] if FULL_TOOLCHAIN else ["examples", "web/test_fastapi.py"]
)


def pytest_report_header() -> list[str]:
    """Say which tests this environment leaves to another one, and where they run."""
    lines = []
    if QUEUES_ABSENT:
        lines.append(
            f"queue adapters not installed here, their tests run elsewhere: "
            f"{', '.join(QUEUES_ABSENT)} (arq: the .[test-arq] environment of .ci/run; "
            "the others: the tests-3.x sessions)"
        )
    if not FULL_TOOLCHAIN:
        lines.append("examples and FastAPI: not installed here; they run in the tests-3.x sessions")
    return lines or ["every adapter and example is installed: all tests run here"]


_exporter = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(_exporter))
trace.set_tracer_provider(_provider)


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter behind the global TracerProvider, emptied per test."""
    _exporter.clear()
    yield _exporter
    _exporter.clear()


@pytest.fixture
def tracer() -> trace.Tracer:
    """A tracer from the real SDK provider."""
    return trace.get_tracer("ctxcarry-tests")


@pytest.fixture(autouse=True)
def _clean_structlog_context() -> Iterator[None]:
    """Every test starts with no structlog bindings in the test thread."""
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (skip locally / fail in CI when it is down)."""
    services.require("Redis", services.REDIS_URL)
    return services.REDIS_URL


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """A reachable RabbitMQ (skip locally / fail in CI when it is down)."""
    services.require("RabbitMQ", services.AMQP_URL)
    return services.AMQP_URL


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """A reachable PostgreSQL (skip locally / fail in CI when it is down)."""
    services.require("PostgreSQL", services.postgres_url())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.extra("name")``: skip (or fail under CI) where the extra cannot run.

    Runs before the test's fixtures are looked up, so a fixture that only the extra
    provides (flagsmith-common's ``run_tasks``) never turns into an error.
    """
    for marker in item.iter_markers("extra"):
        reason = extras.missing_reason(*marker.args)
        if reason is not None:
            pytest.skip(reason)
