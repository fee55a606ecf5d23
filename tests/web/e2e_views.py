"""Django views and a Starlette app that enqueue real tasks from inside a request."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ctxcarry.adapters.starlette import ContextMiddleware
from tests.web.support import tenant_bindings


def enqueue_celery(request: HttpRequest) -> JsonResponse:
    from tests.web.celery_e2e_app import record

    record.delay(request.GET["note"])
    return JsonResponse({"queued": True})


def enqueue_task_processor(request: HttpRequest) -> JsonResponse:
    from tests.web.e2e_tasks import web_e2e_log_note

    web_e2e_log_note.delay(kwargs={"note": request.GET["note"]})
    return JsonResponse({"queued": True})


urlpatterns = [
    path("celery", enqueue_celery),
    path("task-processor", enqueue_task_processor),
]


def starlette_celery_app() -> ContextMiddleware:
    """A Starlette app whose sync endpoint enqueues the Celery task."""
    from tests.web.celery_e2e_app import record

    def enqueue(request: Request) -> JSONResponse:
        record.delay(request.query_params["note"])
        return JSONResponse({"queued": True})

    app = Starlette(routes=[Route("/celery", enqueue)])
    return ContextMiddleware(app, bind=lambda connection: tenant_bindings(connection.headers))
