"""Django with the JSON logging recipe as LOGGING: its own request lines carry request_id."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from ctxcarry.logs import json_logging_config


@pytest.fixture
def json_root_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logging.config.dictConfig(json_logging_config("INFO"))
    [handler] = [h for h in root.handlers if h.get_name() == "ctxcarry_json"]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)
    yield stream
    root.handlers[:], root.level = saved


def test_djangos_not_found_line_carries_the_request_id(
    settings: Any, json_root_logs: io.StringIO
) -> None:
    settings.MIDDLEWARE = ["ctxcarry.adapters.django.ContextMiddleware"]
    settings.ROOT_URLCONF = "tests.web.django_urls"

    response = Client().get("/no-such-page")

    assert response.status_code == 404
    lines = [json.loads(line) for line in json_root_logs.getvalue().splitlines()]
    [not_found] = [line for line in lines if line["logger"] == "django.request"]
    assert not_found["event"].startswith("Not Found")
    assert not_found["request_id"] == response["X-Request-ID"]
