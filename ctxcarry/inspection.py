"""Decode a carrier for a human: what a task carried, and what a worker would drop.

This is the engine behind ``ctxcarry inspect``. It accepts the shapes an
operator actually has at hand -- a ``Task.trace_context`` value, the headers of
a Celery message, a whole Celery/kombu message as JSON -- finds the carrier
inside, and decodes it with :meth:`ctxcarry.Carrier.decode` (no context is
touched). QueueVars that the inspecting process has not registered are not
silently lost: they are listed as carried-but-unknown with their raw value.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._carrier import Carrier, get_default_carrier
from ._jsonvalue import JSONValue
from ._trace import W3C_FIELDS, check_trace_value, parse_traceparent, trace_fields
from ._wire import ENVELOPE_KEY, STRUCTLOG_KEY, VARS_KEY, VERSION_KEY

__all__ = [
    "InspectError",
    "Report",
    "TraceInfo",
    "find_carrier",
    "inspect_carrier",
    "load_json",
    "render_text",
]

#: How deep :func:`find_carrier` looks for a carrier inside the input.
MAX_DEPTH = 6
#: How many JSON objects :func:`find_carrier` examines at most.
MAX_OBJECTS = 10_000
#: Longest string that :func:`find_carrier` tries to parse as embedded JSON.
MAX_EMBEDDED_JSON = 1 << 20


class InspectError(Exception):
    """The input cannot be inspected; ``str()`` is one line for the operator."""


@dataclass(frozen=True)
class TraceInfo:
    """The W3C trace fields of a carrier, with ``traceparent`` taken apart."""

    traceparent: str
    trace_id: str | None
    parent_span_id: str | None
    sampled: bool | None
    #: False when OpenTelemetry would ignore this traceparent on restore.
    valid: bool
    tracestate: str | None = None
    baggage: str | None = None

    def as_json(self) -> dict[str, JSONValue]:
        """The fields as a JSON object (for ``--json``)."""
        return {
            "traceparent": self.traceparent,
            "trace_id": self.trace_id,
            "parent_span_id": self.parent_span_id,
            "sampled": self.sampled,
            "valid": self.valid,
            "tracestate": self.tracestate,
            "baggage": self.baggage,
        }


@dataclass(frozen=True)
class Report:
    """Everything ``inspect`` found in one carrier."""

    #: Where the carrier was found in the input, as a JSON path (``$`` is the root).
    path: str
    #: What the input looked like: a carrier, Celery message headers, or a whole message.
    shape: str
    #: Format version of the ``ctxcarry`` envelope (``None`` when there is no envelope).
    version: int | None
    #: Registered QueueVars the carrier holds: name -> (decoded value, wire value).
    queuevars: dict[str, tuple[Any, JSONValue]]
    #: QueueVars the carrier holds that this process has not registered: name -> wire value.
    unknown_queuevars: dict[str, JSONValue]
    #: structlog keys that extract would bind.
    structlog: dict[str, JSONValue]
    trace: TraceInfo | None
    #: One line per item that extract would drop in this process, and why.
    dropped: tuple[str, ...] = field(default=())
    #: The module the carrier names as defining each unregistered QueueVar (when it does).
    unknown_modules: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, JSONValue]:
        """The report as one JSON object (the ``--json`` output)."""
        return {
            "found_at": self.path,
            "shape": self.shape,
            "version": self.version,
            "queuevars": {name: wire for name, (_, wire) in self.queuevars.items()},
            "unknown_queuevars": dict(self.unknown_queuevars),
            "unknown_queuevar_modules": dict(self.unknown_modules),
            "structlog": dict(self.structlog),
            "trace": self.trace.as_json() if self.trace else None,
            "dropped": list(self.dropped),
        }


def load_json(data: bytes | str) -> Any:
    """Parse the input; raise :class:`InspectError` with a one-line reason."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InspectError("input is not UTF-8 text") from None
    if not data.strip():
        # `psql -At -c "select trace_context ..."` prints a NULL column as an empty line.
        raise InspectError(
            "input is empty: nothing was carried (a NULL column, such as a task's "
            "trace_context, is an empty line in psql's output); expected a JSON object"
        )
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InspectError(
            f"input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:  # an integer beyond sys.get_int_max_str_digits()
        raise InspectError(
            "input holds an integer with too many digits for Python to read "
            "(no consumer accepts it; see docs/wire-format.md)"
        ) from None
    except RecursionError:
        raise InspectError("input is not usable JSON: it nests too deeply") from None


def _score(obj: Mapping[Any, Any]) -> int:
    """How surely ``obj`` is a carrier: 3 with a versioned envelope, 0 if not one at all."""
    envelope = obj.get(ENVELOPE_KEY)
    if isinstance(envelope, Mapping) and (VERSION_KEY in envelope or VARS_KEY in envelope):
        return 3
    if ENVELOPE_KEY in obj and not isinstance(envelope, Mapping):
        return 2  # a damaged envelope is still where the carrier is
    if STRUCTLOG_KEY in obj:
        return 2
    if any(key in obj for key in (*W3C_FIELDS, *trace_fields())):
        return 1
    return 0


def _walk(root: Any) -> Iterator[tuple[str, int, Mapping[Any, Any]]]:
    """Every JSON object in ``root``, breadth first: (path, depth, object).

    A string that holds a JSON object (a header serialised twice) is looked into too.
    """
    queue: deque[tuple[str, int, Any]] = deque([("$", 0, root)])
    seen = 0
    while queue and seen < MAX_OBJECTS:
        path, depth, value = queue.popleft()
        if isinstance(value, str):
            value = _embedded_json(value)
        if isinstance(value, Mapping):
            seen += 1
            yield path, depth, value
            children: Iterator[tuple[str, Any]] = (
                (f"{path}.{key}" if str(key).isidentifier() else f"{path}[{key!r}]", child)
                for key, child in value.items()
            )
        elif isinstance(value, list):
            children = ((f"{path}[{i}]", child) for i, child in enumerate(value))
        else:
            continue
        if depth < MAX_DEPTH:
            queue.extend((child_path, depth + 1, child) for child_path, child in children)


def _embedded_json(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith("{") or len(stripped) > MAX_EMBEDDED_JSON:
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def find_carrier(document: Any) -> tuple[str, Mapping[Any, Any]]:
    """Locate the carrier in ``document``: return its JSON path and the carrier.

    The best candidate wins (a versioned ``ctxcarry`` envelope beats bare
    ``structlog_context``, which beats bare trace headers; a carrier held in a
    ``ctxcarry`` header, as the Celery adapter sends it, beats one without);
    among equals, the shallowest. Raises :class:`InspectError` when there is none.
    """
    if isinstance(document, str):
        embedded = _embedded_json(document)
        if embedded is None:
            raise InspectError("input is a JSON string, not an object holding a carrier")
        document = embedded
    if document is None:
        raise InspectError("input is JSON null: nothing was carried; expected a JSON object")
    if not isinstance(document, (Mapping, list)):
        raise InspectError(f"input is a JSON {_json_type(document)}, not an object")
    best: tuple[int, int, str, Mapping[Any, Any]] | None = None
    for path, depth, obj in _walk(document):
        score = _score(obj)
        if score and path.endswith("." + ENVELOPE_KEY):
            score += 1  # a whole carrier under a "ctxcarry" header, as the Celery adapter sends
        if score and (best is None or (score, -depth) > (best[0], -best[1])):
            best = (score, depth, path, obj)
    if best is None:
        raise InspectError(
            f"no carrier found: no {ENVELOPE_KEY!r}, {STRUCTLOG_KEY!r} or traceparent key "
            f"in the input (an empty carrier means nothing was bound when the task was enqueued)"
        )
    return best[2], best[3]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _shape(document: Any, path: str) -> str:
    """Name the kind of input, for the operator reading the report."""
    headers_like = isinstance(document, Mapping) and "task" in document and "id" in document
    if path == "$":
        return (
            "Celery message headers"
            if headers_like
            else "carrier (e.g. a Task.trace_context value)"
        )
    if isinstance(document, Mapping) and "headers" in document:
        return "Celery message (kombu JSON envelope)"
    if headers_like:
        return "Celery message headers"
    return "carrier nested in a larger JSON value"


def _trace_info(headers: Mapping[str, str]) -> TraceInfo | None:
    """The decoded trace fields (already checked by the core), traceparent taken apart."""
    traceparent = headers.get("traceparent")
    if traceparent is None:
        return None
    parsed = parse_traceparent(traceparent)
    return TraceInfo(
        traceparent=traceparent,
        trace_id=parsed.trace_id if parsed else None,
        parent_span_id=parsed.parent_id if parsed else None,
        sampled=parsed.sampled if parsed else None,
        valid=check_trace_value("traceparent", traceparent) is None,
        tracestate=headers.get("tracestate"),
        baggage=headers.get("baggage"),
    )


def inspect_carrier(document: Any, carrier: Carrier | None = None) -> Report:
    """Find and decode the carrier in ``document`` (parsed JSON); change no context.

    ``carrier`` supplies the limits (the default Carrier's when omitted); it is
    always used non-strict, so every problem is reported rather than raised.
    """
    config = (carrier or get_default_carrier()).replace(strict=False)
    path, found = find_carrier(document)
    decoded = config.decode(found)
    queuevars = {var.name: (slot[0], slot[1]) for var, slot in decoded._checked_slots().items()}
    has_envelope = _safe_get(found, ENVELOPE_KEY) is not None
    return Report(
        path=path,
        shape=_shape(document, path),
        version=decoded.version if has_envelope else None,
        queuevars=queuevars,
        unknown_queuevars=dict(decoded._unregistered()),
        structlog=dict(decoded.log_context),
        trace=_trace_info(decoded.trace_headers),
        dropped=decoded.dropped,
        unknown_modules=dict(decoded._unregistered_modules()),
    )


def _safe_get(mapping: Mapping[Any, Any], key: str) -> Any:
    try:
        return mapping.get(key)
    except Exception:  # the core's decode has reported what is wrong with it
        return None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, sort_keys=True, default=repr)


def render_text(report: Report) -> str:
    """The report as readable text (the default ``inspect`` output)."""
    lines = [f"carrier:        {report.path} ({report.shape})"]
    version = "none (no ctxcarry envelope)" if report.version is None else str(report.version)
    lines.append(f"format version: {version}")
    trace = report.trace
    if trace is None:
        lines.append("trace:          none carried")
    else:
        lines.append(f"trace id:       {trace.trace_id}")
        sampled = {True: "sampled", False: "not sampled", None: "flags unreadable"}[trace.sampled]
        lines.append(f"parent span:    {trace.parent_span_id} ({sampled})")
        if not trace.valid:
            lines.append("                (invalid traceparent: OpenTelemetry will ignore it)")
        if trace.tracestate is not None:
            lines.append(f"tracestate:     {trace.tracestate}")
        if trace.baggage is not None:
            lines.append(f"baggage:        {trace.baggage}")
    if report.queuevars or not report.unknown_queuevars:  # "none" only if none at all
        lines.append(_section("QueueVars", {k: repr(v) for k, (v, _) in report.queuevars.items()}))
    if report.unknown_queuevars:
        lines.append(
            _section(
                "QueueVars carried but not registered in this process (a worker without "
                "them forwards them unchanged; --import MODULE to decode)",
                {
                    k: _show(v) + _defined_in(report.unknown_modules.get(k))
                    for k, v in report.unknown_queuevars.items()
                },
            )
        )
    lines.append(_section("structlog keys", {k: _show(v) for k, v in report.structlog.items()}))
    if report.dropped:
        lines.append("dropped on restore in this process:")
        lines.extend(f"  - {reason}" for reason in report.dropped)
    else:
        lines.append("dropped on restore in this process: nothing")
    return "\n".join(lines)


def _defined_in(module: str | None) -> str:
    return "" if module is None else f"  (defined in {module})"


def _section(title: str, items: Mapping[str, str]) -> str:
    if not items:
        return f"{title}: none"
    width = max(len(name) for name in items)
    body = "\n".join(f"  {name.ljust(width)} = {shown}" for name, shown in items.items())
    return f"{title}:\n{body}"
