"""A real uvicorn with the JSON logging recipe: its own access lines carry request_id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog

from ctxcarry.logs import json_logging_config, structlog_processors
from tests.web.servers import uvicorn_server
from tests.web.starlette_app import build_app


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    access = logging.getLogger("uvicorn.access")
    saved_access = (access.handlers[:], access.level, access.propagate)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    structlog.configure(**saved[2])
    access.handlers[:], access.level, access.propagate = saved_access


@pytest.mark.usefixtures("restore_logging")
def test_uvicorn_access_lines_carry_the_request_id_and_tenant() -> None:
    structlog.configure(
        processors=structlog_processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    config = json_logging_config("INFO", loggers={"uvicorn.access": "INFO"})
    with uvicorn_server(build_app(), log_config=config, access_log=True, log_level="info") as url:
        stream = io.StringIO()
        [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "ctxcarry_json"]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        response = httpx.get(f"{url}/whoami", headers={"x-tenant": "acme"}, timeout=10)
    access = [
        json.loads(line)
        for line in stream.getvalue().splitlines()
        if json.loads(line)["logger"] == "uvicorn.access"
    ]
    assert len(access) == 1, stream.getvalue()
    assert access[0]["request_id"] == response.headers["x-request-id"]
    assert access[0]["web_tenant"] == "acme"
