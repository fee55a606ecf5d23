"""Carrier: capture the current context into a JSON-safe dict, and read one back.

A :class:`Carrier` is configuration (what to carry, limits, strictness) plus
the two operations. ``inject`` runs where a task is enqueued; ``decode`` reads
an untrusted carrier into a :class:`~ctxcarry.QueueContext` without touching
any context; ``extract`` (see :mod:`ctxcarry.restore`) restores one around a
task and undoes it exactly afterwards.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Literal, ParamSpec, TypeVar

from opentelemetry import propagate

from .budget import Entry, carrier_size, fit
from .jsonvalue import NotJSON, TooLarge, copy_json, sanitize_loose, snapshot_exact, string_size
from .names import is_valid_key
from .problems import Problems, safe_name
from .queuecontext import QueueContext
from .queuevar import BACKING_PREFIX, CLEARED, QueueVar, Slot, lookup
from .restore import Extraction
from .trace import check_trace_value, trace_fields
from .wire import ENVELOPE_KEY, FORMAT_VERSION, STRUCTLOG_KEY, VARS_KEY, VERSION_KEY

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_NEW_NAMES",
    "Carrier",
    "TraceRestore",
    "get_default_carrier",
    "set_default_carrier",
]

#: Default budget for everything inject writes: 32 KiB of JSON.
DEFAULT_MAX_BYTES = 32 * 1024
#: Default cap on QueueVars plus structlog keys in one carrier.
DEFAULT_MAX_KEYS = 64
#: Default cap on distinct new structlog key names extract may ever create.
DEFAULT_MAX_NEW_NAMES = 1024

#: When extract attaches the carried trace context: ``"always"``; only when no
#: span is active already (``"if_no_active_span"``, for workers whose own
#: instrumentation already started a span for the task); or ``"never"``.
TraceRestore = Literal["always", "if_no_active_span", "never"]

_STRUCTLOG_PREFIX = "structlog_"
_STRUCTLOG_PREFIX_LEN = len(_STRUCTLOG_PREFIX)
_BACKING_PREFIX_LEN = len(BACKING_PREFIX)
_TRACE_ORDER = {"traceparent": 0, "tracestate": 1, "baggage": 2}
_EMPTY_CONTEXT_DROPPED: tuple[str, ...] = ()

P = ParamSpec("P")
R = TypeVar("R")


def _describe(exc: BaseException) -> str:
    """A short, log-safe description of an error raised on untrusted input."""
    text = str(exc)
    return ascii(text[:120])[1:-1] if text else type(exc).__name__


@dataclass(frozen=True)
class Carrier:
    """Configuration for carrying context, and the inject/extract operations.

    The module-level :func:`ctxcarry.inject` and :func:`ctxcarry.extract` use a
    default instance (:func:`get_default_carrier`); adapters accept one.

    ``strict=True`` raises :class:`~ctxcarry.CarrierError` wherever the default
    would drop an item and log a warning: use it in tests. Setting the
    environment variable ``CTXCARRY_STRICT=1`` makes the default Carrier strict.
    """

    #: Budget for what inject writes (and what extract accepts), in bytes of JSON.
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Most QueueVars plus structlog keys one carrier may hold.
    max_keys: int = DEFAULT_MAX_KEYS
    #: Most distinct new structlog key names extract may create in this process.
    max_new_names: int = DEFAULT_MAX_NEW_NAMES
    #: Raise instead of warning (for tests).
    strict: bool = False
    #: Carry the registered QueueVars.
    carry_queuevars: bool = True
    #: Carry the structlog contextvars.
    carry_structlog: bool = True
    #: Carry the OpenTelemetry trace context and baggage (global propagator).
    carry_trace: bool = True
    #: When extract attaches the carried trace context (see :data:`TraceRestore`).
    restore_trace: TraceRestore = "always"

    def __post_init__(self) -> None:
        if self.max_bytes < 256:
            raise ValueError("max_bytes must be at least 256")
        if self.max_keys < 0 or self.max_new_names < 0:
            raise ValueError("max_keys and max_new_names must not be negative")
        if self.restore_trace not in ("always", "if_no_active_span", "never"):
            raise ValueError(f"unknown restore_trace {self.restore_trace!r}")

    def _reason(self, exc: NotJSON) -> str:
        if isinstance(exc, TooLarge):
            return f"value does not fit max_bytes={self.max_bytes}"
        return str(exc)

    def replace(self, **changes: Any) -> Carrier:
        """A copy of this Carrier with some settings changed."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ inject

    def inject(self, carrier: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the current context into ``carrier`` (a new dict if ``None``).

        Returns the same dict. Writes the W3C trace fields at the top level,
        the structlog contextvars under ``"structlog_context"`` and the
        QueueVars plus the format version under ``"ctxcarry"``; stale
        ``"structlog_context"``/``"ctxcarry"`` keys are removed when there is
        nothing to write. Never raises because of what is bound (unless
        strict): what cannot travel or does not fit is dropped with one warning.
        """
        out: dict[str, Any] = {} if carrier is None else carrier
        problems = Problems()
        trace = self._capture_trace(problems) if self.carry_trace else []
        queuevars, log = self._capture_context(problems)
        trace, queuevars, log = self._apply_limits(trace, queuevars, log, problems)
        problems.raise_if_strict("ctxcarry.inject", self.strict)
        for entry in trace:
            out[entry.key] = entry.value
        if log:
            out[STRUCTLOG_KEY] = {e.key: e.value for e in log}
        else:
            out.pop(STRUCTLOG_KEY, None)
        if queuevars or log:
            out[ENVELOPE_KEY] = {
                VERSION_KEY: FORMAT_VERSION,
                VARS_KEY: {e.key: e.value for e in queuevars},
            }
        else:
            out.pop(ENVELOPE_KEY, None)
        problems.warn("ctxcarry.inject")
        return out

    def _capture_trace(self, problems: Problems) -> list[Entry]:
        headers: dict[str, str] = {}
        try:
            propagate.inject(headers)
        except Exception as exc:  # a broken propagator must not break an enqueue
            problems.add(f"trace context: propagator failed ({type(exc).__name__})")
            return []
        if not headers:
            return []
        entries = []
        for key in sorted(headers, key=lambda k: (_TRACE_ORDER.get(k, 3), k)):
            value = headers[key]
            reason = check_trace_value(key, value)
            if reason is not None:
                problems.add(f"trace field {safe_name(key)} {reason}")
                continue
            entries.append(Entry(key, value, string_size(value)))
        return entries

    def _capture_context(self, problems: Problems) -> tuple[list[Entry], list[Entry]]:
        """One pass over the current context picks up QueueVars and structlog keys."""
        queuevars: list[Entry] = []
        log: list[Entry] = []
        carry_vars, carry_log = self.carry_queuevars, self.carry_structlog
        if not (carry_vars or carry_log):
            return queuevars, log
        limit = self.max_bytes
        for cvar, value in contextvars.copy_context().items():
            name = cvar.name
            if name.startswith(_STRUCTLOG_PREFIX):
                if value is Ellipsis or not carry_log:
                    continue
                key = name[_STRUCTLOG_PREFIX_LEN:]
                if not is_valid_key(key):
                    problems.add(f"structlog key {safe_name(key)}: not a valid key name")
                    continue
                try:
                    json_value, size = sanitize_loose(value, limit)
                except NotJSON as exc:
                    problems.add(f"structlog key {safe_name(key)}: {self._reason(exc)}")
                    continue
                log.append(Entry(key, json_value, size))
            elif carry_vars and value is not CLEARED and name.startswith(BACKING_PREFIX):
                var_name = name[_BACKING_PREFIX_LEN:]
                var = lookup(var_name)
                if var is None or var.context_var is not cvar:
                    continue  # somebody else's ContextVar that merely looks like ours
                wire = value[1]
                if type(wire) is dict or type(wire) is list:
                    wire = copy_json(wire)
                queuevars.append(Entry(var_name, wire, value[2]))
        return queuevars, log

    def _apply_limits(
        self, trace: list[Entry], queuevars: list[Entry], log: list[Entry], problems: Problems
    ) -> tuple[list[Entry], list[Entry], list[Entry]]:
        """Enforce ``max_keys`` then ``max_bytes``, recording what is dropped."""
        if len(queuevars) + len(log) > self.max_keys:
            room_for_log = max(0, self.max_keys - len(queuevars))
            for entry in queuevars[self.max_keys :]:
                problems.add(f"QueueVar {safe_name(entry.key)}: over max_keys={self.max_keys}")
            for entry in log[room_for_log:]:
                problems.add(f"structlog key {safe_name(entry.key)}: over max_keys={self.max_keys}")
            queuevars, log = queuevars[: self.max_keys], log[:room_for_log]
        if carrier_size(trace, queuevars, log) <= self.max_bytes:
            return trace, queuevars, log
        fitted = fit(trace, queuevars, log, self.max_bytes)
        for group, entry in fitted.dropped:
            problems.add(
                f"{group} {safe_name(entry.key)}: {entry.size} bytes do not fit "
                f"max_bytes={self.max_bytes}"
            )
        return fitted.trace, fitted.queuevars, fitted.log

    # ------------------------------------------------------------------ decode

    def decode(self, carrier: object) -> QueueContext:
        """Read an untrusted carrier into a :class:`QueueContext`; change nothing.

        Never raises for bad input unless strict: what cannot be used is left
        out and described in the result's ``dropped``.
        """
        problems = Problems()
        try:
            result = self._decode(carrier, problems)
        except Exception as exc:  # a hostile Mapping must not take the task down
            problems.add(f"carrier could not be read ({type(exc).__name__})")
            result = ({}, [], [], FORMAT_VERSION)
        problems.raise_if_strict("ctxcarry.extract", self.strict)
        slots, log, trace, version = result
        return QueueContext._from_slots(
            slots,
            {e.key: e.value for e in log},
            {e.key: str(e.value) for e in trace},
            version,
            tuple(problems.items) if problems else _EMPTY_CONTEXT_DROPPED,
        )

    def _decode(
        self, carrier: object, problems: Problems
    ) -> tuple[dict[QueueVar[Any], Slot], list[Entry], list[Entry], int]:
        if carrier is None:
            return {}, [], [], FORMAT_VERSION
        if not isinstance(carrier, Mapping):
            problems.add(f"carrier is {type(carrier).__name__}, not a JSON object")
            return {}, [], [], FORMAT_VERSION
        trace = self._decode_trace(carrier, problems) if self.carry_trace else []
        version, raw_vars = self._decode_envelope(carrier.get(ENVELOPE_KEY), problems)
        var_entries = self._decode_section(
            raw_vars, "QueueVar", self.max_keys, problems, self.carry_queuevars
        )
        log = self._decode_section(
            carrier.get(STRUCTLOG_KEY),
            "structlog key",
            self.max_keys - len(var_entries),
            problems,
            self.carry_structlog,
        )
        if carrier_size(trace, var_entries, log) > self.max_bytes:
            fitted = fit(trace, var_entries, log, self.max_bytes)
            for group, entry in fitted.dropped:
                problems.add(
                    f"{group} {safe_name(entry.key)}: {entry.size} bytes do not fit "
                    f"max_bytes={self.max_bytes}"
                )
            trace, var_entries, log = fitted.trace, fitted.queuevars, fitted.log
        return self._decode_slots(var_entries, problems), log, trace, version

    def _decode_trace(self, carrier: Mapping[Any, Any], problems: Problems) -> list[Entry]:
        entries = []
        for field in trace_fields():
            value = carrier.get(field)
            if value is None:
                continue
            reason = check_trace_value(field, value)
            if reason is not None:
                problems.add(f"trace field {safe_name(field)} {reason}")
                continue
            entries.append(Entry(field, value, string_size(value)))
        return entries

    @staticmethod
    def _decode_envelope(envelope: object, problems: Problems) -> tuple[int, object]:
        if envelope is None:
            return FORMAT_VERSION, None
        if not isinstance(envelope, Mapping):
            problems.add(f"{ENVELOPE_KEY!r} is {type(envelope).__name__}, not an object")
            return FORMAT_VERSION, None
        version = envelope.get(VERSION_KEY)
        if type(version) is not int or version < 1:
            problems.add(f"{ENVELOPE_KEY!r} has no valid format version; QueueVars not restored")
            return FORMAT_VERSION, None
        if version > FORMAT_VERSION:
            problems.add(
                f"format version {version} is newer than {FORMAT_VERSION}; QueueVars not restored"
            )
            return version, None
        return version, envelope.get(VARS_KEY)

    def _decode_section(
        self, raw: object, group: str, room: int, problems: Problems, wanted: bool
    ) -> list[Entry]:
        """Check the names and values of one ``{name: value}`` section."""
        if raw is None or not wanted:
            return []
        if not isinstance(raw, Mapping):
            problems.add(f"{group} section is {type(raw).__name__}, not an object")
            return []
        entries = []
        room = max(room, 0)
        for key, value in islice(raw.items(), room):
            if not is_valid_key(key):
                problems.add(f"{group} {safe_name(key)}: not a valid key name")
                continue
            try:
                json_value, size = snapshot_exact(value, self.max_bytes)
            except NotJSON as exc:
                problems.add(f"{group} {safe_name(key)}: {self._reason(exc)}")
                continue
            entries.append(Entry(key, json_value, size))
        if len(raw) > room:
            problems.add(f"{len(raw) - room} more {group}(s) over max_keys={self.max_keys}")
        return entries

    @staticmethod
    def _decode_slots(entries: list[Entry], problems: Problems) -> dict[QueueVar[Any], Slot]:
        slots: dict[QueueVar[Any], Slot] = {}
        for entry in entries:
            var = lookup(entry.key)
            if var is None:
                problems.add(f"QueueVar {safe_name(entry.key)}: not registered here")
                continue
            try:
                slots[var] = var.decode_slot(entry.value, entry.size)
            except (TypeError, ValueError, ArithmeticError) as exc:
                problems.add(
                    f"QueueVar {safe_name(entry.key)}: refused by codec ({_describe(exc)})"
                )
        return slots

    # ------------------------------------------------------------------ extract

    def extract(self, carrier: object, *, restore_trace: TraceRestore | None = None) -> Extraction:
        """A context manager that restores ``carrier`` for its block (an :class:`Extraction`).

        ``restore_trace`` overrides the Carrier's setting for this call.
        """
        return Extraction(self, carrier, restore_trace or self.restore_trace)

    def run(self, carrier: object, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn`` inside ``extract(carrier)``, in a copy of the current context.

        The copy means nothing ``fn`` binds can leak into the calling thread,
        even if ``fn`` leaves it bound: use it as the target of a thread or a
        pool, where the calling thread is long-lived.
        """
        return contextvars.copy_context().run(self._run, carrier, fn, args, kwargs)

    def _run(
        self, carrier: object, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> R:
        with self.extract(carrier):
            return fn(*args, **kwargs)


def _strict_from_environment() -> bool:
    return os.environ.get("CTXCARRY_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


_default_carrier = Carrier(strict=_strict_from_environment())


def get_default_carrier() -> Carrier:
    """The Carrier used by the module-level ``inject``/``extract``."""
    return _default_carrier


def set_default_carrier(carrier: Carrier) -> Carrier:
    """Replace the default Carrier; return the previous one (to restore it later)."""
    global _default_carrier
    if not isinstance(carrier, Carrier):
        raise TypeError("set_default_carrier() needs a Carrier")
    previous, _default_carrier = _default_carrier, carrier
    return previous
