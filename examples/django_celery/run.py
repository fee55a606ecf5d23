"""Run the Django + Celery example end to end and print both processes' JSON logs.

    python examples/django_celery/run.py

Creates the SQLite database (``manage.py migrate``) in a temporary folder,
starts a Celery worker (``celery -A proj --skip-checks worker``, prefork) and
the project under uvicorn (ASGI) on Redis (``$EXAMPLE_BROKER_URL``, default
``redis://127.0.0.1:6379/0``), sends orders as two users of two tenants and
one request for a page that does not exist, waits until the worker has
fulfilled each order and notified its customer, stops both processes and
prints every line they logged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import broker_url, count, example_run, forget_queue, free_port  # noqa: E402

ORDERS = [("acme", "alice"), ("globex", "bob")]


def main() -> None:
    queue = f"django-celery-example-{os.getpid()}"
    port = free_port()
    with example_run() as run:
        env = {
            "EXAMPLE_BROKER_URL": broker_url(),
            "EXAMPLE_QUEUE": queue,
            "EXAMPLE_SQLITE": str(run.directory / "db.sqlite3"),
            "DJANGO_SETTINGS_MODULE": "proj.settings",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity=0"],
            cwd=HERE,
            env={**os.environ, **env},
            check=True,
        )
        worker = run.start(
            "worker",
            [
                *(sys.executable, "-m", "celery", "-A", "proj", "--skip-checks", "worker"),
                *("--pool=prefork", "--concurrency=2", "--loglevel=INFO"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=HERE,
            env=env,
        )
        web = run.start("web", [sys.executable, "serve.py", f"--port={port}"], cwd=HERE, env=env)
        worker.wait_for(lambda lines: count(lines, " ready.") > 0, timeout=30)
        web.wait_for(lambda lines: count(lines, "Uvicorn running on") > 0, timeout=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for tenant, user in ORDERS:
                run.request(client, "POST", "/orders", tenant, user)
            run.request(client, "GET", "/no-such-page", "acme", "alice")
        # Each order: "fulfilling order", "notifying customer", Celery's two "succeeded".
        worker.wait_for(lambda lines: count(lines, "succeeded in") >= 2 * len(ORDERS), 30)
        run.stop()
        run.print_report()
    forget_queue(broker_url(), queue)


if __name__ == "__main__":
    main()
