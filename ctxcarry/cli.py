"""The ``ctxcarry`` command: ``ctxcarry demo`` and ``ctxcarry inspect``.

``demo`` runs a web app and a Celery worker in one process and shows the same
request context on both sides of the queue. ``inspect`` decodes a carrier
(a ``Task.trace_context`` value, a Celery message or its headers) so an
operator can see what a task carried and what a worker would drop.

Errors are one line on stderr and a non-zero exit status; a traceback means a
bug in ctxcarry.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from ._version import __version__
from .demo import QUEUES, DemoError, run_demo
from .inspection import InspectError, inspect_carrier, load_json, render_text

__all__ = ["CommandError", "main"]

#: Exit status for a problem with the input (bad JSON, no carrier, missing file).
EXIT_BAD_INPUT = 1
#: Exit status for a command-line usage error (argparse's convention).
EXIT_USAGE = 2


class CommandError(Exception):
    """A command cannot run; ``str()`` is one line for the user."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctxcarry",
        description="Carry request and task context across queue boundaries.",
    )
    parser.add_argument("--version", action="version", version=f"ctxcarry {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="run a web app and a queue's worker and show the context crossing the queue",
        description="Start a Starlette app with ctxcarry's middleware and a worker for the "
        "chosen queue, send requests for several tenants, print both sides' logs and check "
        "that the request id, tenant and trace id arrived (and, without the adapter, that "
        "they did not). Needs the 'demo' extra and the queue's extra.",
    )
    demo.add_argument(
        "--queue",
        choices=sorted(QUEUES),
        default="celery",
        help="the queue to run the journey on (default: celery)",
    )
    demo.add_argument(
        "--broker",
        metavar="URL",
        default=None,
        help="the queue's broker (default: an in-process broker where the queue has one, "
        "e.g. memory:// for Celery)",
    )

    inspect = commands.add_parser(
        "inspect",
        help="decode a carrier: a Task.trace_context value, a Celery message or its headers",
        description="Read JSON (a Task.trace_context value, a Celery message or its headers) "
        "and show the QueueVars, structlog keys, trace id and parent span, format version, "
        "and what a worker would drop on restore, and why.",
    )
    inspect.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="JSON file to read ('-': stdin)"
    )
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so the QueueVars it defines are decoded with their codecs "
        "(repeatable)",
    )
    return parser


def _read(path: str, stdin: TextIO) -> bytes:
    if path == "-":
        if stdin.isatty():
            raise InspectError("no input: pipe JSON into stdin or pass a FILE")
        return stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InspectError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InspectError(f"is a directory, not a file: {path}") from None
    except OSError as exc:
        raise InspectError(f"cannot read {path}: {exc.strerror or exc}") from None


def _import_modules(names: Sequence[str]) -> None:
    """Import the user's modules from the current directory too, as ``celery -A`` does.

    The ``ctxcarry`` console script's ``sys.path`` starts with its own ``bin``
    folder, not the project root the user runs it from.
    """
    cwd = os.getcwd()
    if names and "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise InspectError(
                f"cannot import {name!r}: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None


def _inspect(args: argparse.Namespace, stdout: TextIO, stdin: TextIO) -> int:
    _import_modules(args.modules)
    report = inspect_carrier(load_json(_read(args.file, stdin)))
    if args.json:
        json.dump(report.as_json(), stdout, indent=2, sort_keys=True, default=repr)
        stdout.write("\n")
    else:
        stdout.write(render_text(report) + "\n")
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:
        return run_demo(queue=args.queue, broker=args.broker)
    except DemoError as exc:
        raise CommandError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ctxcarry`` command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args, sys.stdout, sys.stdin)
        return _demo(args)
    except (InspectError, CommandError) as exc:
        sys.stderr.write(f"ctxcarry {args.command}: error: {exc}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (``ctxcarry demo | head``): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"ctxcarry {args.command}: interrupted\n")
        return 130
