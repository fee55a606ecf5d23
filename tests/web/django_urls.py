"""URLconf of the Django middleware tests (``ROOT_URLCONF = "tests.web.django_urls"``)."""

from __future__ import annotations

from django.urls import path

from tests.web import django_views

urlpatterns = [
    path("sync", django_views.sync_view),
    path("async", django_views.async_view),
    path("upload", django_views.upload_view),
    path("whoami", django_views.whoami),
    path("stream-sync", django_views.stream_sync),
    path("stream-async", django_views.stream_async),
]
