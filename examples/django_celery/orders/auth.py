"""Authentication by a header that your own proxy sets (and strips from clients' requests).

Runs after Django's ``AuthenticationMiddleware`` and replaces its anonymous
user with the user the proxy vouched for, through the ``RemoteUserBackend``
(which creates unknown users). Sync only: under ASGI Django runs it in its
sync thread, where the ORM may be used.
"""

from __future__ import annotations

from django.contrib import auth
from django.http import HttpRequest
from django.utils.deprecation import MiddlewareMixin


class ProxyUserMiddleware(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> None:
        username = request.headers.get("X-User")
        if username:
            user = auth.authenticate(request, remote_user=username)
            if user is not None:
                request.user = user
