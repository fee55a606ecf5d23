"""Run the Django + task processor example end to end and print both processes' JSON logs.

    python examples/django_task_processor/run.py

Creates a PostgreSQL database (``ctxcarry_example_<pid>`` on ``$PGHOST``,
default 127.0.0.1, user ``$PGUSER``, default postgres) and migrates it, starts
the task processor the way flagsmith-common starts it (``python manage.py
start task-processor``) and the project under uvicorn (ASGI), asks for a
report for each of two tenants and an export that fails, waits until the
processor has built and sent each report and logged the failure, stops
both processes, prints every line they logged and drops the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import count, example_run, free_port  # noqa: E402

TENANTS = ["acme", "globex"]


def _admin(sql: str) -> None:
    """Run one statement on the server's ``postgres`` database, outside a transaction."""
    connection = psycopg2.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "5432"),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", ""),
        dbname="postgres",
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def main() -> None:
    database = f"ctxcarry_example_{os.getpid()}"
    _admin(f'CREATE DATABASE "{database}"')
    try:
        with example_run() as run:
            metrics_dir = run.directory / "prometheus"
            metrics_dir.mkdir()
            env = {
                "EXAMPLE_DATABASE": database,
                "DJANGO_SETTINGS_MODULE": "proj.settings",
                # flagsmith-common's gunicorn hooks need it (prometheus_client multiprocess).
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            }
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity=0"],
                cwd=HERE,
                env={**os.environ, **env},
                check=True,
            )
            processor = run.start(
                "processor",
                [
                    *(sys.executable, "manage.py", "start"),
                    # flagsmith-common also serves the app (health checks) with gunicorn.
                    *(f"--bind=127.0.0.1:{free_port()}", "--workers=1", "--no-control-socket"),
                    *("task-processor", "--numthreads=2", "--sleepintervalms=100"),
                ],
                cwd=HERE,
                env=env,
            )
            port = free_port()
            web = run.start(
                "web", [sys.executable, "serve.py", f"--port={port}"], cwd=HERE, env=env
            )
            processor.wait_for(lambda lines: count(lines, "Processor starting") > 0, 30)
            web.wait_for(lambda lines: count(lines, "Uvicorn running on") > 0, timeout=30)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                for tenant in TENANTS:
                    run.request(client, "POST", "/reports", tenant)
                run.request(client, "POST", "/reports", "initech", params={"export": 1})
            processor.wait_for(
                lambda lines: (
                    count(lines, "sending report") >= len(TENANTS)
                    and count(lines, "Failed to execute task") >= 1
                ),
                timeout=30,
            )
            run.stop()
            run.print_report()
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
