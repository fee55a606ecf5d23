"""Render the table in docs/compatibility.md from what the test matrix ran.

Each nox session writes ``.nox/results/<session>.json`` (the versions it had
installed, its passed/skipped/failed counts, its time); this script puts them,
in the noxfile's order, between the ``matrix-table`` markers of
docs/compatibility.md. Run ``nox`` (it ends with this script) or, after single
sessions, ``python scripts/compat_table.py``. ``--check`` exits non-zero when
the page is not what the results say (nothing is written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / ".nox" / "results"
PAGE = ROOT / "docs" / "compatibility.md"
START, END = "<!-- matrix-table:start -->", "<!-- matrix-table:end -->"

#: The noxfile's order (anything else sorts after, by name).
ORDER = [
    "tests-3.10",
    "tests-3.11",
    "tests-3.12",
    "tests-3.13",
    "lowest",
    "django-4.2",
    "django-5.2",
    "django-6",
    "celery-5.3",
    "structlog-23.1",
]
COLUMNS = [
    ("Python", "python"),
    ("structlog", "structlog"),
    ("OTel API", "opentelemetry-api"),
    ("Celery", "celery"),
    ("Kombu", "kombu"),
    ("Django", "django"),
    ("Starlette", "starlette"),
    ("flagsmith-common", "flagsmith-common"),
]


def load(results: Path) -> list[dict[str, Any]]:
    """Every session's result, in the noxfile's order."""
    found = [json.loads(path.read_text()) for path in results.glob("*.json")]

    def key(result: dict[str, Any]) -> tuple[int, str]:
        name = str(result["session"])
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    return sorted(found, key=key)


def _minutes(seconds: int) -> str:
    return "{}:{:02d}".format(*divmod(int(seconds), 60))


def render(results: list[dict[str, Any]]) -> str:
    """The markdown table (one row per session)."""
    header = [
        "Session",
        *(title for title, _ in COLUMNS),
        "Passed",
        "Skipped",
        "Failed",
        "Test time",
        "With install",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        versions = result["versions"]
        outcome = [
            str(result["passed"]),
            str(result["skipped"]),
            f"**{result['failed']}**" if result["failed"] else "0",
            _minutes(result["seconds"]),
            _minutes(result["session_seconds"]) if "session_seconds" in result else "-",
        ]
        name = f"`{result['session']}`" + ("" if result.get("full_suite", True) else " (part)")
        cells = [name, *(versions.get(field) or "not installed" for _, field in COLUMNS)]
        rows.append("| " + " | ".join([*cells, *outcome]) + " |")
    dates = sorted({str(result["date"]) for result in results})
    platforms = sorted({str(result["platform"]) for result in results})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    rows.append("")
    rows.append(f"Ran {when} on {', '.join(platforms)}.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--check", action="store_true", help="only compare; write nothing")
    args = parser.parse_args(argv)
    results = load(args.results)
    if not results:
        print(f"no results in {args.results}: run nox first", file=sys.stderr)
        return 1
    page = PAGE.read_text()
    before, rest = page.split(START, 1)
    _, after = rest.split(END, 1)
    new = f"{before}{START}\n{render(results)}\n{END}{after}"
    if args.check:
        if new != page:
            print(f"{PAGE.relative_to(ROOT)} is not what the results say", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    print(f"{PAGE.relative_to(ROOT)}: {len(results)} sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
