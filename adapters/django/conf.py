"""The ``CTXCARRY`` Django setting, read and checked once per middleware load.

.. code-block:: python

    CTXCARRY = {
        "REQUEST_ID_HEADER": "X-Request-ID",  # trusted inbound header; None: always generate
        "RESPONSE_HEADER": "X-Request-ID",  # echo the id; None: don't
        "TRUST_TRACE_CONTEXT": False,  # honour inbound traceparent when no server span
        "BIND": "myproject.logging.bind_request",  # hook(request) -> bindings, at entry
        "BIND_IDENTITY": "myproject.logging.bind_identity",  # hook, after authentication
        "GENERATE_REQUEST_ID": None,  # () -> str; default: 32 random hex digits
        "QUEUEVARS": ["myproject.context"],  # modules defining QueueVars, imported at start
    }

Unknown keys and values of the wrong type raise ``ImproperlyConfigured`` when
the middleware is loaded, so a typo fails at startup rather than silently
turning a feature off. Hooks may be callables or dotted import paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

__all__ = ["SETTING_NAME", "ContextSettings", "load_settings"]

#: The name of the Django setting.
SETTING_NAME = "CTXCARRY"

_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")

#: A hook takes the ``HttpRequest`` and returns bindings (sync or ``async def``).
Hook = Callable[[Any], Any]


@dataclass(frozen=True)
class ContextSettings:
    """The checked ``CTXCARRY`` setting, with defaults for what is left out."""

    request_id_header: str | None = None
    response_header: str | None = "X-Request-ID"
    trust_trace_context: bool = False
    bind: Hook | None = None
    bind_identity: Hook | None = None
    generate_request_id: Callable[[], str] | None = None
    queuevars: tuple[str, ...] = ()

    @property
    def request_id_meta_key(self) -> str | None:
        """Where Django's ``request.META`` holds the trusted header, if any."""
        if self.request_id_header is None:
            return None
        return meta_key(self.request_id_header)


def meta_key(header: str) -> str:
    """The ``request.META`` key of an HTTP header (``X-Request-ID`` -> ``HTTP_X_REQUEST_ID``)."""
    return "HTTP_" + header.upper().replace("-", "_")


def load_settings() -> ContextSettings:
    """Read ``settings.CTXCARRY``; raise ``ImproperlyConfigured`` for anything wrong."""
    raw = getattr(settings, SETTING_NAME, None)
    if raw is None:
        return ContextSettings()
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict, not {type(raw).__name__}")
    unknown = sorted(str(key) for key in raw if key not in _READERS)
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING_NAME} has unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(_READERS))}"
        )
    values = {_READERS[key][0]: _READERS[key][1](key, value) for key, value in raw.items()}
    return ContextSettings(**values)


def _header(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _HEADER_NAME.fullmatch(value) is None:
        raise ImproperlyConfigured(
            f"{SETTING_NAME}[{key!r}] must be None or an HTTP header name such as 'X-Request-ID'"
        )
    return value


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ImproperlyConfigured(f"{SETTING_NAME}[{key!r}] must be True or False")
    return value


def _callable(key: str, value: object) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{SETTING_NAME}[{key!r}]: {exc}") from exc
    if not callable(value):
        raise ImproperlyConfigured(
            f"{SETTING_NAME}[{key!r}] must be a callable or a dotted path to one"
        )
    return value


def _modules(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ImproperlyConfigured(f"{SETTING_NAME}[{key!r}] must be a list of module paths")


_READERS: dict[str, tuple[str, Callable[[str, object], Any]]] = {
    "REQUEST_ID_HEADER": ("request_id_header", _header),
    "RESPONSE_HEADER": ("response_header", _header),
    "TRUST_TRACE_CONTEXT": ("trust_trace_context", _flag),
    "BIND": ("bind", _callable),
    "BIND_IDENTITY": ("bind_identity", _callable),
    "GENERATE_REQUEST_ID": ("generate_request_id", _callable),
    "QUEUEVARS": ("queuevars", _modules),
}
