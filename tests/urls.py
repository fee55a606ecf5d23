"""Root URLconf for Django tests; web tests override it with their own."""

from __future__ import annotations

urlpatterns: list[object] = []
