"""Fail at ``install()``, naming the version, when flagsmith-common lacks what the adapter patches.

``install()`` replaces attributes inside flagsmith-common's ``task_processor``
package (module globals and class attributes, see ``installation.py``) and
connects to ``Task``'s ``pre_save``. None of them is a public API: a release
that renames one would make the adapter fail obscurely or carry nothing.
:func:`require_supported_upstream` checks them all first and raises an error
that says which version is installed and which versions are supported.
"""

from __future__ import annotations

import importlib

from ctxcarry.kit import unsupported_upstream

__all__ = [
    "SUPPORTED",
    "UnsupportedTaskProcessorError",
    "missing_internals",
    "require_supported_upstream",
]

#: The flagsmith-common versions ctxcarry supports, and what they need.
SUPPORTED = (
    "flagsmith-common >= 3.16 (tested: 3.16), which needs Python >= 3.11, Django < 6 "
    "and opentelemetry-api >= 1.25"
)

#: (module, attribute path) of every internal the adapter patches or reads; a class
#: attribute must be defined on that very class, as ``installation._patch`` needs.
_INTERNALS = (
    ("task_processor.processor", "_run_task"),
    ("task_processor.processor", "ThreadPoolExecutor"),
    ("task_processor.models", "AbstractBaseTask.run"),
    ("task_processor.models", "Task"),
    ("task_processor.decorators", "Thread"),
    ("task_processor.decorators", "TaskHandler.delay"),
)


class UnsupportedTaskProcessorError(RuntimeError):
    """The installed flagsmith-common lacks an internal the adapter depends on."""


def _has(module_name: str, path: str) -> bool:
    try:
        owner: object = importlib.import_module(module_name)
    except ImportError:
        return False
    *classes, name = path.split(".")
    for class_name in classes:
        owner = getattr(owner, class_name, None)
        if owner is None:
            return False
    return name in vars(owner)


def missing_internals() -> list[str]:
    """The dotted names of the task processor internals the adapter needs and cannot find."""
    missing = [f"{module}.{path}" for module, path in _INTERNALS if not _has(module, path)]
    if not missing:
        from task_processor.models import Task

        fields = {field.name for field in Task._meta.get_fields()}
        if "trace_context" not in fields:
            missing.append("task_processor.models.Task.trace_context")
    return missing


def require_supported_upstream() -> None:
    """Raise :class:`UnsupportedTaskProcessorError` when :func:`missing_internals` finds any."""
    message = unsupported_upstream(
        "task processor adapter",
        "flagsmith-common",
        "flagsmith-common",
        missing_internals(),
        SUPPORTED,
    )
    if message is not None:
        raise UnsupportedTaskProcessorError(message)
