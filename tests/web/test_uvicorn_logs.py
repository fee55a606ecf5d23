"""A real uvicorn process with the JSON logging recipe: its own access lines carry request_id.

The server runs in a process of its own, configured exactly as docs/logging.md shows
(``log_config=json_logging_config(...)``), so nothing another test did to this
process's logging can change what it prints.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SERVER = """
import sys
import uvicorn
from ctxcarry.logs import json_logging_config
from tests.web.starlette_app import build_app

uvicorn.run(
    build_app(),
    host="127.0.0.1",
    port=int(sys.argv[1]),
    log_config=json_logging_config("INFO", loggers={"uvicorn.access": "INFO"}),
    log_level="info",
    lifespan="off",
)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_uvicorn_access_lines_carry_the_request_id_and_tenant(tmp_path: Path) -> None:
    port = _free_port()
    log_path = tmp_path / "uvicorn.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)], cwd=REPO, env=env, stderr=log, stdout=log
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.get(
                        f"http://127.0.0.1:{port}/whoami", headers={"x-tenant": "acme"}, timeout=5
                    )
                    break
                except httpx.TransportError:
                    assert server.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, "uvicorn did not start"
                    time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=20)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "uvicorn.access"]
    assert len(access) == 1, log_path.read_text()
    assert access[0]["request_id"] == response.headers["x-request-id"]
    assert access[0]["web_tenant"] == "acme"
