"""Fixtures for the request middleware tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.support import LogCapture, capturing_logs


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """structlog events of the test, contextvars merged in."""
    with capturing_logs() as capture:
        yield capture


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (uvicorn's and Django's loop)."""
    return "asyncio"
