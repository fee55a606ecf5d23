"""Fixtures shared by every test: OTel tracing, clean structlog state, services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests import extras, services

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
