"""Run the FastAPI + Celery example end to end and print both processes' JSON logs.

    python examples/fastapi_celery/run.py

Starts a Celery worker (prefork, 2 children) and the FastAPI app under uvicorn
on Redis (``$EXAMPLE_BROKER_URL``, default ``redis://127.0.0.1:6379/0``),
sends three orders for two tenants (one with a value that cannot travel),
waits until the worker has charged each order and sent its receipt, stops
both processes and prints every line they logged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import broker_url, count, example_run, forget_queue, free_port  # noqa: E402

ORDERS = [("acme", False), ("globex", False), ("acme", True)]


def main() -> None:
    queue = f"fastapi-celery-example-{os.getpid()}"
    env = {"EXAMPLE_BROKER_URL": broker_url(), "EXAMPLE_QUEUE": queue}
    port = free_port()
    with example_run() as run:
        worker = run.start(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=HERE,
            env=env,
        )
        web = run.start("web", [sys.executable, "web.py", f"--port={port}"], cwd=HERE, env=env)
        worker.wait_for(lambda lines: count(lines, " ready.") > 0, timeout=30)
        web.wait_for(lambda lines: count(lines, "Uvicorn running on") > 0, timeout=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for tenant, gift in ORDERS:
                run.request(client, "POST", "/orders", tenant, params={"gift": gift})
        # Each order: "charging order", "sending receipt", and Celery's two "succeeded".
        worker.wait_for(lambda lines: count(lines, "succeeded in") >= 2 * len(ORDERS), 30)
        run.stop()
        run.print_report()
    forget_queue(broker_url(), queue)


if __name__ == "__main__":
    main()
