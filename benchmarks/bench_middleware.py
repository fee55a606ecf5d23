"""Overhead of the request middlewares on a trivial endpoint, measured in-process.

Each stack is built twice -- without and with ``ContextMiddleware`` -- and the
ASGI app is called directly (no server, no sockets), so the figure is the
middleware's cost relative to the framework's own per-request cost. Rounds
interleave the stacks, the order rotating round by round; the report gives
median microseconds per request and the ratio against the baseline measured in
the same run.

    python benchmarks/bench_middleware.py [--rounds 15] [--requests 2000] [--skip-django] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import _timing

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def http_scope(path: str = "/") -> dict[str, Any]:
    """A minimal HTTP/1.1 GET scope with a few ordinary headers."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"user-agent", b"bench/1"),
            (b"accept", b"*/*"),
            (b"x-request-id", b"0f3c2a9e-5d41-4b7a-9c3e-2b8d1e6f4a70"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def make_receive() -> Callable[[], Awaitable[dict[str, Any]]]:
    """The request body once; then wait, as a connection that stays open does."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the app cancels its disconnect listener
        raise AssertionError("unreachable")

    return receive


async def send(message: dict[str, Any]) -> None:
    return None


async def time_requests(app: ASGIApp, requests: int) -> float:
    """Microseconds per request for ``requests`` sequential calls of ``app``."""
    start = time.perf_counter()
    for _ in range(requests):
        await app(http_scope(), make_receive(), send)
    return (time.perf_counter() - start) / requests * 1e6


async def compare(
    baseline: ASGIApp, variants: dict[str, ASGIApp], rounds: int, requests: int
) -> dict[str, dict[str, float]]:
    """Interleave rounds of the baseline and each variant (rotating order); medians and ratios."""
    apps = {"baseline": baseline, **variants}
    for app in apps.values():  # warm up imports, caches, lazy middleware loading
        await time_requests(app, 200)
    samples: dict[str, list[float]] = {label: [] for label in apps}
    for round_number in range(rounds):
        for label in _timing.rotated(list(apps), round_number):
            samples[label].append(await time_requests(apps[label], requests))
    return _timing.summarize(samples, "baseline")


class EmptyMiddleware:
    """The floor: a pure ASGI middleware that only wraps ``send``, as any such one must."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def passing_send(message: dict[str, Any]) -> None:
            await send(message)

        await self.app(scope, receive, passing_send)


Stack = tuple[ASGIApp, dict[str, ASGIApp]]


class NaiveBindingMiddleware:
    """A reference: binds a fresh request_id with structlog's own helper, nothing else.

    No response header, no baseline, no exact restore (a leak-prone minimum); it
    shows what merely having ``request_id`` bound and logged costs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import structlog

        with structlog.contextvars.bound_contextvars(request_id=os.urandom(16).hex()):
            await self.app(scope, receive, send)


def starlette_apps() -> tuple[Stack, Stack]:
    """(trivial endpoint stack, endpoint that logs one line and returns JSON stack)."""
    import structlog
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from ctxcarry import QueueVar
    from ctxcarry.adapters.starlette import ContextMiddleware

    tenant = QueueVar("bench_middleware_tenant", default=None)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(open(os.devnull, "w")),  # noqa: SIM115
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger()

    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def logging_endpoint(request: Any) -> JSONResponse:
        log.info("handled", path=request.url.path)
        return JSONResponse({"items": [{"id": number, "name": "item"} for number in range(10)]})

    def build(route: Any, *middleware: Middleware) -> ASGIApp:
        return Starlette(routes=[Route("/", route)], middleware=list(middleware))

    with_hook = Middleware(
        ContextMiddleware,
        request_id_header="X-Request-ID",
        bind=lambda conn: {"user_agent": conn.headers.get("user-agent"), tenant: "acme"},
    )
    trivial = {
        "empty pure-ASGI middleware (floor)": build(endpoint, Middleware(EmptyMiddleware)),
        "naive bound_contextvars middleware": build(endpoint, Middleware(NaiveBindingMiddleware)),
        "ContextMiddleware (defaults)": build(endpoint, Middleware(ContextMiddleware)),
        "+ trusted header + bind hook": build(endpoint, with_hook),
    }
    logging = {
        "naive bound_contextvars middleware": build(
            logging_endpoint, Middleware(NaiveBindingMiddleware)
        ),
        "ContextMiddleware (defaults)": build(logging_endpoint, Middleware(ContextMiddleware)),
        "+ trusted header + bind hook": build(logging_endpoint, with_hook),
    }
    return (build(endpoint), trivial), (build(logging_endpoint), logging)


def django_apps() -> tuple[ASGIApp, dict[str, ASGIApp]]:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        CTXCARRY={"REQUEST_ID_HEADER": "X-Request-ID"},
    )
    django.setup()
    from django.core.handlers.asgi import ASGIHandler
    from django.http import HttpResponse
    from django.test.utils import override_settings
    from django.urls import path

    async def view(request: Any) -> HttpResponse:
        return HttpResponse("ok")

    globals()["urlpatterns"] = [path("", view)]

    def build(middleware: list[str]) -> ASGIApp:
        with override_settings(MIDDLEWARE=middleware):
            return ASGIHandler()  # type: ignore[no-any-return]

    return build([]), {
        "ContextMiddleware": build(["ctxcarry.adapters.django.middleware.ContextMiddleware"]),
    }


SECTIONS = {
    "starlette_trivial": "Starlette 1.x, trivial PlainTextResponse endpoint",
    "starlette_logging": (
        "Starlette 1.x, endpoint logging one structlog line (JSON) and returning JSON"
    ),
    "django": "Django ASGIHandler, trivial async view",
}


def render(result: Mapping[str, Any]) -> str:
    blocks = []
    for key, title in SECTIONS.items():
        if key not in result:
            continue
        section = result[key]
        rows = [{"stack": label, **row} for label, row in section["stacks"].items()]
        columns: list[_timing.Column] = [
            ("stack", "stack", "s"),
            ("median_us", "us/request", ".2f"),
            ("ratio", "ratio", ".3f"),
            ("extra_us", "added us", "+.2f"),
        ]
        blocks.append(
            f"{title}: median us/request over {section['rounds']} rounds of "
            f"{section['requests']}\n" + _timing.table(rows, columns, indent="  ")
        )
    return "\n\n".join(blocks)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    env = _timing.environment()
    result: dict[str, Any] = {}
    trivial, logging = starlette_apps()
    for key, (baseline, variants) in (
        ("starlette_trivial", trivial),
        ("starlette_logging", logging),
    ):
        result[key] = {
            "rounds": args.rounds,
            "requests": args.requests,
            "stacks": await compare(baseline, variants, args.rounds, args.requests),
        }
    if not args.skip_django:
        # Django's ASGI handler hops to a thread for its sync signal receivers on
        # every request: its figures are noisier, so more, shorter rounds.
        baseline, variants = django_apps()
        result["django"] = {
            "rounds": args.django_rounds,
            "requests": args.django_requests,
            "stacks": await compare(baseline, variants, args.django_rounds, args.django_requests),
        }
    result["environment"] = _timing.finish_environment(env)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Starlette rounds")
    parser.add_argument("--requests", type=int, default=2000, help="Starlette requests/round")
    parser.add_argument("--django-rounds", type=int, default=31)
    parser.add_argument("--django-requests", type=int, default=200)
    parser.add_argument("--skip-django", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    _timing.emit(asyncio.run(run(args)), args.json, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
