"""Identity bound after AuthenticationMiddleware, inside the scope ContextMiddleware opened."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.test import AsyncClient, Client
from structlog.contextvars import get_contextvars

from ctxcarry.adapters.django.checks import check_middleware_order

CONTEXT = "ctxcarry.adapters.django.ContextMiddleware"
IDENTITY = "ctxcarry.adapters.django.ContextIdentityMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"


@pytest.fixture(autouse=True)
def identity_settings(settings: Any) -> Any:
    settings.MIDDLEWARE = [CONTEXT, SESSIONS, AUTHENTICATION, IDENTITY]
    settings.ROOT_URLCONF = "tests.web.django_urls"
    settings.CTXCARRY = {
        "BIND": "tests.web.django_views.bind_tenant",
        "BIND_IDENTITY": "tests.web.django_views.bind_identity",
    }
    return settings


@pytest.mark.django_db
def test_identity_is_bound_for_the_view_and_carried(django_user_model: Any) -> None:
    user = django_user_model.objects.create_user(username="ada", password="x")
    http = Client()
    http.force_login(user)
    body = http.get("/whoami", headers={"X-Tenant": "acme"}).json()
    assert body["context"]["user_id"] == user.pk
    assert body["context"]["username"] == "ada"
    assert body["context"]["tenant"] == "acme"
    assert body["carrier"]["structlog_context"]["user_id"] == user.pk
    anonymous = Client().get("/whoami").json()
    assert set(anonymous["context"]) == {"request_id"}
    assert get_contextvars() == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
@pytest.mark.parametrize("hook", ["bind_identity", "bind_identity_async"])
async def test_identity_under_asgi_with_sync_or_async_hook(
    settings: Any, django_user_model: Any, hook: str
) -> None:
    settings.CTXCARRY = {"BIND_IDENTITY": f"tests.web.django_views.{hook}"}
    user = await django_user_model.objects.acreate(username=f"grace-{hook}")
    http = AsyncClient()
    # AsyncClient.aforce_login is Django >= 5.0; force_login does the same on 4.2.
    await sync_to_async(http.force_login)(user)
    for path in ("/async", "/sync"):
        body = (await http.get(path)).json()
        assert body["context"]["user_id"] == user.pk
        assert body["carrier"]["structlog_context"]["username"] == user.username
    assert set((await AsyncClient().get("/whoami")).json()["context"]) == {"request_id"}
    assert get_contextvars() == {}
    await sync_to_async(connections.close_all)()  # the ORM thread's connection


def test_identity_middleware_is_dropped_when_no_hook_is_set(settings: Any) -> None:
    settings.MIDDLEWARE = [CONTEXT, IDENTITY]
    settings.CTXCARRY = {}
    response = Client().get("/whoami")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "middleware",
    [[IDENTITY, CONTEXT], [CONTEXT, SESSIONS, IDENTITY, AUTHENTICATION]],
    ids=["before ContextMiddleware", "before AuthenticationMiddleware"],
)
def test_a_misplaced_identity_middleware_fails_at_startup_not_per_request(
    settings: Any, middleware: list[str]
) -> None:
    """Without the optional app (no system checks), loading the middleware fails."""
    settings.MIDDLEWARE = middleware
    settings.CTXCARRY = {"BIND_IDENTITY": lambda request: {"user_id": 1}}
    with pytest.raises(ImproperlyConfigured, match="must come after"):
        WSGIHandler()  # what a server builds once, at startup


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ({"BIND_IDENTTY": "tests.web.django_views.bind_identity"}, "unknown key(s) BIND_IDENTTY"),
        ({"BIND": "tests.web.no_such_module.hook"}, "CTXCARRY['BIND']"),
        ({"TRUST_TRACE_CONTEXT": "yes"}, "must be True or False"),
    ],
)
def test_manage_py_check_reports_a_bad_ctxcarry_setting(
    settings: Any, setting: dict[str, object], fragment: str
) -> None:
    settings.CTXCARRY = setting
    errors = [m for m in checks.run_checks() if m.id == "ctxcarry_django.E003"]
    assert len(errors) == 1
    assert fragment in errors[0].msg


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        ([CONTEXT, SESSIONS, AUTHENTICATION, IDENTITY], set()),
        (
            [IDENTITY, CONTEXT, SESSIONS, AUTHENTICATION],
            {"ctxcarry_django.E001", "ctxcarry_django.E002"},
        ),
        ([CONTEXT, SESSIONS, IDENTITY, AUTHENTICATION], {"ctxcarry_django.E002"}),
        ([SESSIONS, AUTHENTICATION, IDENTITY], {"ctxcarry_django.E001"}),
        ([CONTEXT, SESSIONS, AUTHENTICATION], {"ctxcarry_django.W001"}),
        (
            [CONTEXT, "django_structlog.middlewares.RequestMiddleware", IDENTITY],
            {"ctxcarry_django.W002"},
        ),
    ],
)
def test_system_checks_catch_a_bad_middleware_order(
    settings: Any, middleware: list[str], expected: set[str]
) -> None:
    settings.MIDDLEWARE = middleware
    assert {message.id for message in check_middleware_order()} == expected


def test_system_checks_are_registered_by_the_app(settings: Any) -> None:
    settings.MIDDLEWARE = [IDENTITY, CONTEXT]
    assert "ctxcarry_django.E001" in {message.id for message in checks.run_checks()}
