"""Snapshots of everything extract promises to put back."""

from __future__ import annotations

from typing import Any

import structlog
from opentelemetry import context as otel_context

from ctxcarry import registered_vars


def context_state() -> tuple[dict[str, Any], dict[str, Any], Any]:
    """QueueVar values (set ones only), structlog bindings, and the OTel context object."""
    queuevars = {v.name: v.get() for v in registered_vars() if v.is_set()}
    return queuevars, structlog.contextvars.get_contextvars(), otel_context.get_current()
