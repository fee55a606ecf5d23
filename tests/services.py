"""Where the tests find real services, and what happens when one is missing.

Each service is found through an environment variable with the machine's
default on 127.0.0.1. Locally a missing service skips the tests that need it;
under ``CI=true`` it fails them: CI must never go green by skipping.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_URL = os.environ.get("CTXCARRY_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CTXCARRY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
PGHOST = os.environ.get("PGHOST", "127.0.0.1")
PGPORT = int(os.environ.get("PGPORT", "5432"))
PGUSER = os.environ.get("PGUSER", "postgres")
PGPASSWORD = os.environ.get("PGPASSWORD", "")
PGDATABASE = os.environ.get("PGDATABASE", "postgres")


def in_ci() -> bool:
    """True when running under CI (``CI=true``): missing services are failures."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require(name: str, url: str) -> None:
    """Skip (locally) or fail (CI) the current test when ``url``'s server is down."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    if port is None:
        port = {"redis": 6379, "amqp": 5672, "postgres": 5432}.get(parts.scheme, 0)
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


def postgres_url() -> str:
    """The PostgreSQL server as a URL (for :func:`require`)."""
    return f"postgres://{PGUSER}@{PGHOST}:{PGPORT}/{PGDATABASE}"


def with_db(url: str, db: int) -> str:
    """``url`` (a Redis URL) pointing at database ``db``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@contextmanager
def session_redis(url: str, db: int, pattern: str) -> Iterator[str]:
    """Redis database ``db`` of ``url`` for a test session; its keys matching ``pattern``
    (the session's own prefix) are deleted afterwards. Never flushed: another session may
    share the database."""

    session_url = with_db(url, db)
    yield session_url
    delete_keys(session_url, pattern)


def delete_keys(url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` (a run's own prefix) in ``url``'s Redis database.

    The tests' only way to clean Redis: a database is never flushed, since a concurrent
    test run (or anything else on the machine) may be using it.
    """
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=pattern, count=1000):
        client.delete(key)
    client.close()
