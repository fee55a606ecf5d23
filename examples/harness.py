"""What every example's ``run.py`` does: start processes, send requests, print their logs.

Each example starts its web server and its worker as subprocesses (each in its
own session, so stopping one stops its children too), waits until both are
ready, sends a few HTTP requests, waits until the worker has logged what those
requests enqueued, stops both, and prints every line each process wrote to
stderr, prefixed with the process's name::

    web    {"event": "order accepted", "request_id": "...", "tenant": "acme", ...}
    worker {"event": "charging order", "request_id": "...", "tenant": "acme", ...}
    request {"path": "/orders", "status": 202, "request_id": "...", "tenant": "acme"}

The ``request`` lines summarise the requests sent (the ``X-Request-ID`` each
response echoed); the example's test reads the same output.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: Environment variable naming the Redis URL the Celery examples use.
BROKER_VARIABLE = "EXAMPLE_BROKER_URL"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def broker_url() -> str:
    """The broker of the Celery examples: ``$EXAMPLE_BROKER_URL`` or Redis DB 0."""
    return os.environ.get(BROKER_VARIABLE, DEFAULT_BROKER)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A subprocess whose stderr (its JSON log) goes to a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def lines(self) -> list[str]:
        """Every line the process has written to stderr so far."""
        return self.log_path.read_text(errors="replace").splitlines()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> None:
        """Wait until ``predicate(lines)`` holds; fail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while not predicate(self.lines()):
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n" + "\n".join(self.lines()[-30:]))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: timed out:\n" + "\n".join(self.lines()[-30:]))
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to the process's own session (its children too), SIGKILL after 15 s."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@dataclass
class Run:
    """The processes of one example run, and the requests sent."""

    directory: Path
    processes: list[Process] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def start(
        self, name: str, argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None
    ) -> Process:
        """Start ``argv`` in ``cwd``; its stderr goes to a log file, stdout is discarded."""
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log_file:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def request(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        tenant: str | None = None,
        user: str | None = None,
        **options: Any,
    ) -> httpx.Response:
        """Send one request (``X-Tenant``, ``X-User`` headers) and remember its request id."""
        headers = {"X-Tenant": tenant} if tenant else {}
        if user:
            headers["X-User"] = user
        response = client.request(method, path, headers=headers, **options)
        self.requests.append(
            {
                "method": method,
                "path": path,
                "status": response.status_code,
                "request_id": response.headers.get("x-request-id"),
                "tenant": tenant,
                "user": user,
            }
        )
        return response

    def stop(self) -> None:
        """Stop every process, the last started first."""
        for process in reversed(self.processes):
            process.stop()

    def print_report(self, out: Any = None) -> None:
        """Print each process's lines, prefixed with its name, then the requests."""
        out = out or sys.stdout
        width = max(len(p.name) for p in self.processes)
        for process in self.processes:
            for line in process.lines():
                print(f"{process.name:<{width}} {line}", file=out)
        for sent in self.requests:
            print(f"request {json.dumps(sent)}", file=out)


@contextmanager
def example_run() -> Iterator[Run]:
    """A :class:`Run` in a temporary directory; every process is stopped at exit."""
    with tempfile.TemporaryDirectory(prefix="ctxcarry-example-") as directory:
        run = Run(Path(directory))
        try:
            yield run
        finally:
            run.stop()


def forget_queue(url: str, queue: str) -> None:
    """Delete what Celery left in Redis for ``queue`` (kombu's binding keys)."""
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)
    client.zrem("_kombu.binding_deadlines", queue)


def count(lines: list[str], text: str) -> int:
    """How many of ``lines`` contain ``text``."""
    return sum(text in line for line in lines)
