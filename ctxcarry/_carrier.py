"""Carrier: capture the current context into a JSON-safe dict, and read one back.

A :class:`Carrier` is configuration (what to carry, limits, strictness) plus
the two operations. ``inject`` runs where a task is enqueued; ``decode`` reads
an untrusted carrier into a :class:`~ctxcarry.QueueContext` without touching
any context; ``extract`` (see :mod:`ctxcarry._restore`) restores one around a
task and undoes it exactly afterwards.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import propagate

from . import _defaults
from ._budget import (
    ENTRY_OVERHEAD,
    ENVELOPE_OVERHEAD,
    LOG_OVERHEAD,
    MAX_ESCAPED_CHAR,
    MAX_ESCAPED_PRINTABLE,
    QUOTES,
    SCALAR_BOUND,
    Entry,
    fit,
    upper_bound,
)
from ._forward import (
    Forwarded,
    add_forwarded,
    forwarded,
    last_hints,
    module_hint,
    module_hints,
    unregistered_line,
)
from ._jsonvalue import (
    MAX_SAFE_INTEGER,
    NotJSON,
    TooLarge,
    copy_json,
    encode_ascii,
    is_clean_text,
    sanitize_loose,
    snapshot_exact,
    snapshot_received,
    string_size,
)
from ._logselect import KeySelection, key_names, selection_for
from ._logvars import LOCAL_KEYS
from ._names import MAX_KEY_LENGTH, is_valid_key, known_valid_names
from ._problems import Problems, safe_name
from ._queuecontext import QueueContext
from ._queuevar import CLEARED, QueueVar, Slot, _by_name, backing_names
from ._restore import Extraction, TraceRestore, check_trace_policy
from ._trace import (
    DEFAULT_LIMIT,
    FIELD_LIMITS,
    W3C_FIELDS,
    check_trace_value,
    filter_baggage,
    is_common_traceparent,
    trace_fields,
)
from ._wire import (
    ENVELOPE_KEY,
    FORMAT_VERSION,
    MODULES_KEY,
    STRUCTLOG_KEY,
    VARS_KEY,
    VERSION_KEY,
)

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


_STRUCTLOG_PREFIX = "structlog_"
_STRUCTLOG_PREFIX_LEN = len(_STRUCTLOG_PREFIX)
_TRACE_ORDER = {field: rank for rank, field in enumerate(W3C_FIELDS)}
_NO_TRACE: dict[str, str] = {}
#: Upper bound of the fixed punctuation around the sections (envelope + structlog object).
_SECTIONS_BOUND = 2 + ENVELOPE_OVERHEAD + LOG_OVERHEAD
#: Integers below this magnitude travel as numbers (I-JSON) and have at most
#: 17 characters: no size check needed.
_SAFE_INT = MAX_SAFE_INTEGER + 1
#: Largest format version a warning shows; beyond it the digits are the producer's.
_SHOWN_VERSION_LIMIT = 10**6

P = ParamSpec("P")
R = TypeVar("R")


def _describe(exc: BaseException) -> str:
    """A short, log-safe description of an error raised on untrusted input."""
    try:
        text = str(exc)
    except Exception:  # a user exception whose __str__ fails
        text = ""
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
    #: When set, only these structlog keys travel (at inject and at extract).
    structlog_keys: Collection[str] | None = None
    #: These structlog keys never travel (at inject and at extract).
    structlog_exclude: Collection[str] = ()
    #: The two lists compiled (``None`` when every key travels): the hot paths test only this.
    _log_selection: KeySelection | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 256:
            raise ValueError("max_bytes must be at least 256")
        if self.max_keys < 0 or self.max_new_names < 0:
            raise ValueError("max_keys and max_new_names must not be negative")
        check_trace_policy(self.restore_trace)
        self._set_log_selection()

    def _set_log_selection(self) -> None:
        """Normalise the structlog key lists to frozensets; compile them once."""
        keys = None
        if self.structlog_keys is not None:
            keys = key_names(self.structlog_keys, "structlog_keys")
        exclude = key_names(self.structlog_exclude, "structlog_exclude")
        object.__setattr__(self, "structlog_keys", keys)
        object.__setattr__(self, "structlog_exclude", exclude)
        object.__setattr__(self, "_log_selection", selection_for(keys, exclude))

    def _reason(self, exc: NotJSON) -> str:
        if isinstance(exc, TooLarge):
            return f"value does not fit max_bytes={self.max_bytes}"
        return str(exc)

    def _fitting_entry(
        self, budget: _Room, key: str, value: object, kind: str, problems: Problems
    ) -> tuple[Any, int, int] | None:
        """``value`` as JSON, its size and its entry's cost, if it is JSON and fits ``budget``.

        Otherwise ``None``, with one problem line naming the ``kind`` of item and
        why (decode's item-by-item paths, for QueueVars and structlog keys alike).
        """
        try:
            wire, size = budget.measure(value)
        except NotJSON as exc:
            problems.add(f"{kind} {safe_name(key)}: {self._reason(exc)}")
            return None
        cost = len(key) + size + ENTRY_OVERHEAD
        if cost > budget.left:
            problems.add(f"{kind} {safe_name(key)}: {self._reason(TooLarge())}")
            return None
        return wire, size, cost

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
        trace, bound = self._capture_trace(problems) if self.carry_trace else (_NO_TRACE, 0)
        queuevars, log, context_bound = self._capture_context(problems)
        carried = forwarded.get()
        if carried is not CLEARED and self.carry_queuevars:  # extract of unregistered vars
            context_bound += add_forwarded(carried, queuevars)
        bound += context_bound
        if bound > self.max_bytes or len(queuevars) + len(log) > self.max_keys:
            trace, queuevars, log = self._enforce_limits(trace, queuevars, log, problems)
            bound = self.max_bytes  # at the limits: no room for the optional module hints
        if problems:
            problems.raise_if_strict("ctxcarry.inject", self.strict)
        if trace:
            out.update(trace)
        if log:
            out[STRUCTLOG_KEY] = log
        else:
            out.pop(STRUCTLOG_KEY, None)
        if queuevars or log:
            envelope = {VERSION_KEY: FORMAT_VERSION, VARS_KEY: queuevars}
            if queuevars:  # the module hints: the last ones again while the same vars travel
                names, hints = last_hints[0]
                if carried is not CLEARED or queuevars.keys() != names:
                    hints = module_hints(queuevars, carried)
                if hints[1] and bound + hints[1] <= self.max_bytes:
                    envelope[MODULES_KEY] = hints[0].copy()
            out[ENVELOPE_KEY] = envelope
        else:
            out.pop(ENVELOPE_KEY, None)
        if problems:
            problems.warn("ctxcarry.inject")
        return out

    def _capture_trace(self, problems: Problems) -> tuple[dict[str, str], int]:
        """The global propagator's fields for the current context, and their size bound."""
        headers: dict[str, str] = {}
        try:
            propagate.inject(headers)
        except Exception as exc:  # a broken propagator must not break an enqueue
            problems.add(f"trace context: propagator failed ({type(exc).__name__})")
            return _NO_TRACE, 0
        bound = 0
        names = known_valid_names
        for key, value in headers.items():
            # The fast path takes what the slow path would keep unchanged: a
            # known key name and a printable ASCII value within its limit.
            if (
                key not in names
                or type(key) is not str
                or type(value) is not str
                or len(value) > FIELD_LIMITS.get(key, DEFAULT_LIMIT)
                or not (value.isascii() and value.isprintable())
            ):
                return self._drop_bad_trace(headers, problems)
            bound += len(key) + MAX_ESCAPED_PRINTABLE * len(value) + QUOTES + ENTRY_OVERHEAD
        return headers, bound

    @staticmethod
    def _drop_bad_trace(headers: dict[str, str], problems: Problems) -> tuple[dict[str, str], int]:
        """The slow path of :meth:`_capture_trace`: keep only the acceptable fields."""
        kept: dict[str, str] = {}
        bound = 0
        for key, value in headers.items():
            if not is_valid_key(key):
                problems.add(f"trace field {safe_name(key)}: not a valid key name")
                continue
            reason = check_trace_value(key, value, trusted=True)
            if reason is not None:
                problems.add(f"trace field {safe_name(key)} {reason}")
                continue
            kept[key] = value
            bound += len(key) + MAX_ESCAPED_PRINTABLE * len(value) + QUOTES + ENTRY_OVERHEAD
        return kept, bound

    def _capture_context(self, problems: Problems) -> tuple[dict[str, Any], dict[str, Any], int]:
        """One pass over the current context picks up QueueVars and structlog keys.

        Returns both sections and an upper bound of their JSON size (strings
        are bounded by their worst-case escaping, so no encoding happens here).
        """
        queuevars: dict[str, Any] = {}
        log: dict[str, Any] = {}
        carry_vars, carry_log = self.carry_queuevars, self.carry_structlog
        if not (carry_vars or carry_log):
            return queuevars, log, 0
        limit = self.max_bytes
        backing = backing_names
        log_keys = _log_key_by_var
        selection = self._log_selection
        bound = _SECTIONS_BOUND
        for cvar, value in contextvars.copy_context().items():
            var_name = backing.get(cvar)
            if var_name is not None:
                if value is CLEARED or not carry_vars:
                    continue
                wire = value[1]
                if type(wire) is dict or type(wire) is list:
                    wire = copy_json(wire)
                queuevars[var_name] = wire
                bound += len(var_name) + value[2] + ENTRY_OVERHEAD
                continue
            key = log_keys.get(cvar, _UNSEEN)
            if key is _UNSEEN:
                key = _classify(cvar)
            if key is None or value is Ellipsis or not carry_log:
                continue
            if selection is not None and not selection.keeps(key):
                continue  # configuration, not a problem: no warning
            if not key:
                name = cvar.name[_STRUCTLOG_PREFIX_LEN:]
                problems.add(f"structlog key {safe_name(name)}: not a valid key name")
                continue
            # The common case, inline: an ASCII string without NUL (two C-level
            # checks) needs no closer look before the budget.
            kind = type(value)
            if kind is str and value.isascii() and "\x00" not in value:
                log[key] = value
                bound += len(key) + MAX_ESCAPED_CHAR * len(value) + QUOTES + ENTRY_OVERHEAD
                continue
            if kind is int and -_SAFE_INT < value < _SAFE_INT:
                log[key] = value
                bound += len(key) + SCALAR_BOUND + ENTRY_OVERHEAD
                continue
            changed: set[str] = set()
            try:
                json_value, size = sanitize_loose(value, limit, changed)
            except NotJSON as exc:
                problems.add(f"structlog key {safe_name(key)}: {self._reason(exc)}")
                continue
            except Exception as exc:  # whatever a bound object does, inject goes on
                problems.add(
                    f"structlog key {safe_name(key)}: could not be converted ({type(exc).__name__})"
                )
                continue
            if changed:
                problems.add(f"structlog key {safe_name(key)}: {'; '.join(sorted(changed))}")
            log[key] = json_value
            bound += len(key) + size + ENTRY_OVERHEAD
        return queuevars, log, bound

    def _enforce_limits(
        self,
        trace: dict[str, str],
        queuevars: dict[str, Any],
        log: dict[str, Any],
        problems: Problems,
    ) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        """The slow path, near the limits: exact sizes, ``max_keys``, then ``max_bytes``."""
        var_entries = _exact_entries(queuevars)
        log_entries = _exact_entries(log)
        if len(var_entries) + len(log_entries) > self.max_keys:
            room_for_log = max(0, self.max_keys - len(var_entries))
            for entry in var_entries[self.max_keys :]:
                problems.add(f"QueueVar {safe_name(entry[0])}: over max_keys={self.max_keys}")
            for entry in log_entries[room_for_log:]:
                problems.add(f"structlog key {safe_name(entry[0])}: over max_keys={self.max_keys}")
            var_entries, log_entries = var_entries[: self.max_keys], log_entries[:room_for_log]
        trace_entries = sorted(
            _exact_entries(trace), key=lambda e: (_TRACE_ORDER.get(e[0], 3), e[0])
        )
        if upper_bound(trace_entries, var_entries, log_entries) > self.max_bytes:
            trace_entries, var_entries, log_entries = self._fit(
                trace_entries, var_entries, log_entries, problems
            )
        return (
            {key: str(value) for key, value, _ in trace_entries},
            {key: value for key, value, _ in var_entries},
            {key: value for key, value, _ in log_entries},
        )

    def _fit(
        self, trace: list[Entry], queuevars: list[Entry], log: list[Entry], problems: Problems
    ) -> tuple[list[Entry], list[Entry], list[Entry]]:
        fitted = fit(trace, queuevars, log, self.max_bytes)
        for group, (key, _, size) in fitted.dropped:
            problems.add(
                f"{group} {safe_name(key)}: {size} bytes do not fit max_bytes={self.max_bytes}"
            )
        return fitted.trace, fitted.queuevars, fitted.log

    # ------------------------------------------------------------------ decode

    def decode(self, carrier: object) -> QueueContext:
        """Read an untrusted carrier into a :class:`QueueContext`; change nothing.

        Never raises for bad input unless strict: what cannot be used is left
        out and described in the result's ``dropped``.
        """
        if carrier is None:
            return QueueContext._from_slots({}, {}, {}, FORMAT_VERSION, ())
        problems = Problems()
        unknown: dict[str, Forwarded] = {}
        try:
            slots, log, trace, version = self._decode(carrier, problems, unknown)
        except Exception as exc:  # a hostile Mapping must not take the task down
            problems.add(f"carrier could not be read ({type(exc).__name__})")
            slots, log, trace, version = {}, {}, {}, FORMAT_VERSION
        if problems:
            problems.raise_if_strict("ctxcarry.extract", self.strict)
        return QueueContext._from_slots(
            slots, log, trace, version, tuple(problems) if problems else (), unknown
        )

    def _decode(
        self, carrier: object, problems: Problems, unknown: dict[str, Forwarded]
    ) -> tuple[dict[QueueVar[Any], Slot], dict[str, Any], dict[str, str], int]:
        """One flat pass over an untrusted carrier (this is extract's hot path).

        The budget is spent in carrier order: trace fields, then QueueVars,
        then structlog keys, each entry kept if its exact size fits what
        remains (``used`` counts exact bytes). A carrier inject wrote always
        fits whole; of a hostile one, checking costs at most a few budgets.
        """
        if type(carrier) is not dict and not isinstance(carrier, Mapping):
            problems.add(f"carrier is {type(carrier).__name__}, not a JSON object")
            return {}, {}, {}, FORMAT_VERSION
        get = carrier.get
        limit = self.max_bytes
        used = 2  # the braces; the sections' punctuation is counted as inject counts it
        trace: dict[str, str] = {}
        if self.carry_trace:
            for field in trace_fields():
                value = get(field)
                if value is None:
                    continue
                if field == "traceparent" and is_common_traceparent(value):
                    size = len(value) + QUOTES  # hex digits and dashes: no escapes
                else:
                    reason = check_trace_value(field, value)
                    if reason is not None:
                        problems.add(f"trace field {safe_name(field)} {reason}")
                        continue
                    if field == "baggage":
                        value, bad = filter_baggage(value)
                        if bad:
                            problems.add(f"trace field 'baggage': {bad} invalid member(s) dropped")
                        if not value:
                            continue
                    size = string_size(value)
                cost = len(field) + size + ENTRY_OVERHEAD
                if used + cost > limit:
                    problems.add(f"trace field {safe_name(field)}: {self._reason(TooLarge())}")
                    continue
                trace[field] = value
                used += cost

        slots: dict[QueueVar[Any], Slot] = {}
        version = FORMAT_VERSION
        envelope = get(ENVELOPE_KEY)
        raw_log = get(STRUCTLOG_KEY) if self.carry_structlog else None
        if envelope is not None or raw_log is not None:
            used += ENVELOPE_OVERHEAD  # inject writes the envelope with either section
        if envelope is not None:
            version, raw_vars = self._decode_envelope(envelope, problems)
            if raw_vars is not None and self.carry_queuevars:
                used = self._decode_queuevars(raw_vars, slots, problems, unknown, used, envelope)

        log: dict[str, Any] = {}
        if raw_log is not None:
            used += LOG_OVERHEAD
            self._decode_log(raw_log, log, problems, used, self.max_keys - len(slots))
        return slots, log, trace, version

    @staticmethod
    def _decode_envelope(envelope: object, problems: Problems) -> tuple[int, object]:
        """The format version and the raw ``vars`` section (``None``: do not restore)."""
        if type(envelope) is not dict and not isinstance(envelope, Mapping):
            problems.add(f"{ENVELOPE_KEY!r} is {type(envelope).__name__}, not an object")
            return FORMAT_VERSION, None
        version = envelope.get(VERSION_KEY)
        if type(version) is not int or version < 1:
            problems.add(f"{ENVELOPE_KEY!r} has no valid format version; QueueVars not restored")
            return FORMAT_VERSION, None
        if version > FORMAT_VERSION:
            shown = version if version < _SHOWN_VERSION_LIMIT else "(a huge number)"
            problems.add(
                f"format version {shown} is newer than {FORMAT_VERSION}; QueueVars not restored"
            )
            return version, None
        return version, envelope.get(VARS_KEY)

    def _decode_queuevars(
        self,
        raw: object,
        slots: dict[QueueVar[Any], Slot],
        problems: Problems,
        unknown: dict[str, Forwarded],
        used: int,
        envelope: object,
    ) -> int:
        """Fill ``slots`` from the envelope's ``vars``; return the exact bytes used.

        A valid name that is not registered here is not restored; its value,
        if it is JSON by the wire rule, goes into ``unknown`` with its size and
        the envelope's module hint (forwarded by extract, shown by ``inspect``).
        """
        limit = self.max_bytes
        if type(raw) is dict and len(raw) <= self.max_keys:
            size = _plain_queuevar_slots(raw, slots, limit)
            if size >= 0:
                if used + size <= limit:
                    return used + size
                for taken, slot in list(slots.items()):  # near the limit: in order, exactly
                    cost = len(taken.name) + slot[2] + ENTRY_OVERHEAD
                    if used + cost > limit:
                        del slots[taken]
                        problems.add(
                            f"QueueVar {safe_name(taken.name)}: {self._reason(TooLarge())}"
                        )
                    else:
                        used += cost
                return used
            slots.clear()  # something needs a closer look: the item-by-item path
        elif type(raw) is not dict and not isinstance(raw, Mapping):
            problems.add(f"QueueVar section is {type(raw).__name__}, not an object")
            return used
        room, by_name = self.max_keys, _by_name
        budget = _Room(limit - used)
        for key, value in islice(raw.items(), room):
            var = by_name.get(key) if type(key) is str else None
            if var is None:
                if is_valid_key(key):
                    module = module_hint(envelope, key)
                    refused = None
                    try:
                        unknown[key] = (*budget.measure(value, spare_only=True), module)
                    except NotJSON as exc:
                        refused = self._reason(exc)
                    problems.add(unregistered_line(key, module, refused))
                else:
                    problems.add(f"QueueVar {safe_name(key)}: not a valid key name")
                continue
            entry = self._fitting_entry(budget, key, value, "QueueVar", problems)
            if entry is None:
                continue
            wire, size, cost = entry
            if var._plain:
                slots[var] = (wire, wire, size)
            else:
                try:
                    slots[var] = var._decode_slot(wire, size)
                except Exception as exc:  # a codec is user code reading untrusted input
                    problems.add(f"QueueVar {safe_name(key)}: refused by codec ({_describe(exc)})")
                    continue
            budget.left -= cost
        if len(raw) > room:
            problems.add(f"{len(raw) - room} more QueueVar(s) over max_keys={self.max_keys}")
        return limit - budget.left

    def _decode_log(
        self, raw: object, log: dict[str, Any], problems: Problems, used: int, room: int
    ) -> None:
        """Fill ``log`` from ``structlog_context`` with what fits after ``used`` bytes."""
        limit = self.max_bytes
        if type(raw) is dict and len(raw) <= room:
            log.update(raw)  # a snapshot first: a value checked is a value kept
            bound = _plain_log_bound(log, limit)
            if bound >= 0:
                if self._log_selection is not None:  # every key is a str here
                    self._log_selection.drop_unselected(log)
                if used + bound > limit:  # near the limit: in order, exactly
                    for key, value in list(log.items()):
                        size = string_size(value) if type(value) is str else len(repr(value))
                        cost = len(key) + size + ENTRY_OVERHEAD
                        if used + cost > limit:
                            del log[key]
                            problems.add(
                                f"structlog key {safe_name(key)}: {self._reason(TooLarge())}"
                            )
                        else:
                            used += cost
                return
            raw = log.copy()  # something needs a closer look: the item-by-item path
            log.clear()
        elif type(raw) is not dict and not isinstance(raw, Mapping):
            problems.add(f"structlog section is {type(raw).__name__}, not an object")
            return
        room = max(room, 0)
        valid_names = known_valid_names
        selection = self._log_selection
        budget = _Room(limit - used)
        for key, value in islice(raw.items(), room):
            if selection is not None and type(key) is str and not selection.keeps(key):
                continue  # configuration, not a problem: no warning
            if type(key) is not str or (key not in valid_names and not is_valid_key(key)):
                problems.add(f"structlog key {safe_name(key)}: not a valid key name")
                continue
            entry = self._fitting_entry(budget, key, value, "structlog key", problems)
            if entry is None:
                continue
            json_value, _, cost = entry
            log[key] = json_value
            budget.left -= cost
        if len(raw) > room:
            problems.add(f"{len(raw) - room} more structlog key(s) over max_keys={self.max_keys}")

    # ------------------------------------------------------------------ extract

    def extract(self, carrier: object, *, restore_trace: TraceRestore | None = None) -> Extraction:
        """A context manager that restores ``carrier`` for its block (an :class:`Extraction`).

        ``restore_trace`` overrides the Carrier's setting for this call.
        """
        policy = self.restore_trace if restore_trace is None else restore_trace
        return Extraction(self, carrier, policy)

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


#: What each ContextVar seen by inject is: its structlog key, ``""`` for a
#: structlog var with an invalid name, ``None`` for anything else. Bounded.
_log_key_by_var: dict[contextvars.ContextVar[Any], str | None] = {}
_LOG_KEY_CACHE_LIMIT = 8192
_UNSEEN: Any = object()


def _classify(cvar: contextvars.ContextVar[Any]) -> str | None:
    """Classify a ContextVar for inject (and remember it while the cache has room)."""
    name = cvar.name
    key: str | None = None
    if name.startswith(_STRUCTLOG_PREFIX):
        key = name[_STRUCTLOG_PREFIX_LEN:]
        if key in LOCAL_KEYS:
            key = None  # the running task's own identity: never carried onward
        elif not is_valid_key(key):
            key = ""
    if len(_log_key_by_var) < _LOG_KEY_CACHE_LIMIT:
        _log_key_by_var[cvar] = key
    return key


class _Room:
    """What remains of the budget while decode checks a section item by item.

    Every value is measured against what is ``left`` of ``max_bytes`` (not
    against the whole budget), so the values kept cost at most the budget to
    check. A value that turns out larger than what is left costs up to that
    much work before it is refused; such work is drawn from ``spare`` (one
    more budget's worth), and once that is spent, containers and strings are
    refused at their first element. So checking a section costs at most
    three budgets of work, however many values a hostile carrier holds.
    """

    __slots__ = ("left", "spare")

    def __init__(self, left: int) -> None:
        self.left = left
        self.spare = left

    def measure(self, value: Any, *, spare_only: bool = False) -> tuple[Any, int]:
        """``value`` exactly as JSON and its exact size (``NotJSON``/``TooLarge``)."""
        kind = type(value)
        if kind is str:
            if len(value) + QUOTES > self.left:
                raise TooLarge()
            size = string_size(value)  # one C call, however long
            if size > self.left:
                raise TooLarge()
            if is_clean_text(value):
                return value, size
        if kind is int and -_SAFE_INT < value < _SAFE_INT:
            return value, len(int.__repr__(value))
        limit = max(0, min(self.spare, self.left))
        if spare_only:
            limit = max(0, self.spare)
        try:
            wire, size = snapshot_received(value, limit)
        except TooLarge:
            self.spare -= max(limit, 1)
            raise
        if spare_only:
            self.spare -= size
        return wire, size


# The fast paths of extract's decoding. Each handles the shape a carrier
# written by inject has -- known names, short strings, small ints -- and
# returns -1 for anything else, which then goes through the item-by-item
# checks that name each problem. Keys are validated names, so at most
# MAX_KEY_LENGTH characters each: no need to measure them.
_PER_KEY_BOUND = MAX_KEY_LENGTH + ENTRY_OVERHEAD


def _plain_log_bound(log: dict[str, Any], limit: int) -> int:
    """The size bound of a structlog section that needs no closer look, else ``-1``.

    Every name already known valid (one C-level subset check) and every value
    a ``str`` or a small ``int``, which are JSON exactly as they are, with at
    most ``limit`` characters of text in all.
    """
    if not log.keys() <= known_valid_names:
        return -1
    text = 0
    for key, value in log.items():
        # Equal is not enough: a str subclass can hash and compare like a
        # known name while its text is anything.
        if type(key) is not str:
            return -1
        if type(value) is str:
            if not (value.isascii() and "\x00" not in value) and not is_clean_text(value):
                return -1
            text += len(value)
        elif type(value) is not int or not -_SAFE_INT < value < _SAFE_INT:
            return -1
    if text >= limit:
        return -1
    return len(log) * (_PER_KEY_BOUND + SCALAR_BOUND) + MAX_ESCAPED_CHAR * text


def _plain_queuevar_slots(raw: dict[Any, Any], slots: dict[QueueVar[Any], Slot], limit: int) -> int:
    """Fill ``slots`` from a QueueVar section that needs no closer look; else ``-1``.

    Returns the section's exact size (without the envelope around it).

    Every name registered here and every value a ``str`` shorter than
    ``limit``, a small ``int``, a bool or ``None``; typed vars decode through
    their codec.
    """
    by_name, encode = _by_name, encode_ascii
    bound = 0
    for key, value in raw.items():
        var = by_name.get(key) if type(key) is str else None
        if var is None:
            return -1
        if type(value) is str:
            if len(value) >= limit or (
                not (value.isascii() and "\x00" not in value) and not is_clean_text(value)
            ):
                return -1
            size = len(encode(value))
        elif type(value) is int and -_SAFE_INT < value < _SAFE_INT:
            size = len(int.__repr__(value))
        elif value is None or value is True:
            size = 4
        elif value is False:
            size = 5
        else:
            return -1
        if var._plain:
            slots[var] = (value, value, size)
        else:
            try:
                slots[var] = var._decode_slot(value, size)
            except Exception:  # the item-by-item path reports it
                return -1
        bound += len(key) + size + ENTRY_OVERHEAD
    return bound


def _exact_entries(section: Mapping[str, Any]) -> list[Entry]:
    """Entries with exact JSON sizes for an already-checked section (the slow path)."""
    entries: list[Entry] = []
    for key, value in section.items():
        if type(value) is str:
            entries.append((key, value, string_size(value)))
        else:
            entries.append((key, value, snapshot_exact(value)[1]))
    return entries


def _strict_from_environment() -> bool:
    return os.environ.get("CTXCARRY_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


_defaults.carrier = Carrier(strict=_strict_from_environment())


def get_default_carrier() -> Carrier:
    """The Carrier used by the module-level ``inject``/``extract``."""
    return cast(Carrier, _defaults.carrier)


def set_default_carrier(carrier: Carrier) -> Carrier:
    """Replace the default Carrier; return the previous one (to restore it later)."""
    if not isinstance(carrier, Carrier):
        raise TypeError("set_default_carrier() needs a Carrier")
    previous, _defaults.carrier = _defaults.carrier, carrier
    return cast(Carrier, previous)
