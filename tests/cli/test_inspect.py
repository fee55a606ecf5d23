"""``ctxcarry inspect``: every input shape an operator has, machine output, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from ctxcarry.adapters.celery import install, uninstall
from ctxcarry.cli import main
from tests.cli.conftest import ACCOUNT, run_cli


def write_json(tmp_path: Path, value: Any) -> str:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(value))
    return str(path)


def inspect_json(capsys: pytest.CaptureFixture[str], path: str, *extra: str) -> dict[str, Any]:
    assert main(["inspect", path, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.fixture
def celery_message(bound_context: dict[str, Any], redis_db_url: str) -> dict[str, Any]:
    """A real protocol-2 message, as the Celery adapter publishes it, read back from Redis."""
    app = Celery("cli-inspect", broker=redis_db_url, set_as_current=False)
    queue = f"ctxcarry-cli-{uuid.uuid4().hex}"
    install(app)
    client = redis.Redis.from_url(redis_db_url)
    try:
        app.send_task("cli.never_run", args=[1], queue=queue)
        raw = client.lpop(queue)  # the message exactly as the broker holds it
    finally:
        uninstall(app)
        client.delete(queue)
        client.close()
    assert raw is not None
    return json.loads(raw)  # type: ignore[no-any-return, arg-type]


def test_trace_context_value_shows_everything_carried(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    trace_context_value: dict[str, Any],
    bound_context: dict[str, Any],
) -> None:
    assert main(["inspect", write_json(tmp_path, trace_context_value)]) == 0
    out = capsys.readouterr().out
    assert "format version: 1" in out
    assert f"trace id:       {bound_context['trace_id']}" in out
    assert f"parent span:    {bound_context['span_id']} (sampled)" in out
    assert "cli_tenant  = 'acme'" in out
    assert f"cli_account = UUID('{ACCOUNT}')" in out
    assert 'request_id = "req-42"' in out
    assert "user_id    = 7" in out
    assert "dropped on restore in this process: nothing" in out


def test_json_output_is_machine_readable(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    trace_context_value: dict[str, Any],
    bound_context: dict[str, Any],
) -> None:
    report = inspect_json(capsys, write_json(tmp_path, trace_context_value))
    assert report["found_at"] == "$"
    assert report["version"] == 1
    assert report["queuevars"] == {"cli_tenant": "acme", "cli_account": str(ACCOUNT)}
    assert report["structlog"] == {"request_id": "req-42", "user_id": 7}
    assert report["trace"]["trace_id"] == bound_context["trace_id"]
    assert report["trace"]["parent_span_id"] == bound_context["span_id"]
    assert report["trace"]["valid"] is True
    assert report["unknown_queuevars"] == {}
    assert report["dropped"] == []


def test_whole_celery_message_from_the_broker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, celery_message: dict[str, Any]
) -> None:
    report = inspect_json(capsys, write_json(tmp_path, celery_message))
    assert report["found_at"] == "$.headers.ctxcarry"
    assert report["shape"] == "Celery message (kombu JSON envelope)"
    assert report["queuevars"]["cli_tenant"] == "acme"
    assert report["structlog"]["request_id"] == "req-42"


def test_celery_headers_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, celery_message: dict[str, Any]
) -> None:
    report = inspect_json(capsys, write_json(tmp_path, celery_message["headers"]))
    assert report["found_at"] == "$.ctxcarry"
    assert report["queuevars"]["cli_tenant"] == "acme"


def test_stdin_and_unregistered_vars_are_shown_not_lost(
    trace_context_value: dict[str, Any],
) -> None:
    # A fresh process has not imported the module that defines the vars.
    result = run_cli("inspect", "--json", stdin=json.dumps(trace_context_value))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["queuevars"] == {}
    assert report["unknown_queuevars"] == {"cli_tenant": "acme", "cli_account": str(ACCOUNT)}
    assert report["unknown_queuevar_modules"] == {
        "cli_tenant": "tests.cli.carried_vars",
        "cli_account": "tests.cli.carried_vars",
    }
    assert any(
        line.startswith(
            "QueueVar 'cli_tenant' is not registered in this process "
            "(defined in tests.cli.carried_vars where the task was enqueued)"
        )
        for line in report["dropped"]
    )

    text = run_cli("inspect", "-", stdin=json.dumps(trace_context_value))
    assert "QueueVars carried but not registered in this process" in text.stdout
    assert 'cli_tenant  = "acme"  (defined in tests.cli.carried_vars)' in text.stdout
    # Never "QueueVars: none" above a list of the QueueVars carried.
    assert "QueueVars: none" not in text.stdout


def test_no_queuevar_carried_says_none(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    carrier = {"structlog_context": {"request_id": "r-1"}, "ctxcarry": {"v": 1, "vars": {}}}
    assert main(["inspect", write_json(tmp_path, carrier)]) == 0
    out = capsys.readouterr().out
    assert "QueueVars: none" in out
    assert "not registered" not in out


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed here")
def test_a_null_column_piped_from_psql_says_nothing_was_carried(
    postgres_available: None,
) -> None:
    # What an operator pipes: `psql -At -c "select trace_context ..."` of a NULL column.
    from tests import services

    server = ["-h", services.PGHOST, "-p", str(services.PGPORT), "-U", services.PGUSER]
    query = subprocess.run(
        ["psql", *server, "-d", services.PGDATABASE, "-At", "-c", "select NULL::jsonb"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={**os.environ, "PGPASSWORD": services.PGPASSWORD},
    )
    result = run_cli("inspect", stdin=query.stdout)
    assert result.returncode == 1
    assert result.stderr.startswith("ctxcarry inspect: error: input is empty: nothing was carried")
    assert "Traceback" not in result.stderr


def test_import_option_decodes_the_vars_with_their_codecs(
    trace_context_value: dict[str, Any],
) -> None:
    result = run_cli(
        "inspect",
        "--json",
        "--import",
        "tests.cli.carried_vars",
        stdin=json.dumps(trace_context_value),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["queuevars"] == {"cli_tenant": "acme", "cli_account": str(ACCOUNT)}
    assert report["unknown_queuevars"] == {}


def test_what_a_worker_would_drop_is_listed_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    carrier = {
        "traceparent": "00-not-a-trace-01",
        "structlog_context": {"request_id": "r", "bad key!": 1},
        "ctxcarry": {"v": 1, "vars": {"priority": 999, "cli_account": "not a uuid"}},
    }
    report = inspect_json(capsys, write_json(tmp_path, carrier))
    dropped = "\n".join(report["dropped"])
    assert "QueueVar 'priority': refused by codec" in dropped
    assert "QueueVar 'cli_account': refused by codec" in dropped
    assert "structlog key 'bad key!': not a valid key name" in dropped
    assert report["structlog"] == {"request_id": "r"}
    assert "trace field 'traceparent'" in dropped
    assert report["trace"] is None


def test_newer_format_version_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    carrier = {"ctxcarry": {"v": 2, "vars": {"cli_tenant": "acme"}}}
    report = inspect_json(capsys, write_json(tmp_path, carrier))
    assert report["version"] == 2
    assert report["queuevars"] == {}
    assert any("format version 2 is newer than 1" in line for line in report["dropped"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "input is not valid JSON"),
        ("", "input is empty: nothing was carried (a NULL column"),
        ("\n", "input is empty: nothing was carried (a NULL column"),
        ("null", "input is JSON null: nothing was carried"),
        ('{"task": "x", "id": "1"}', "no carrier found"),
        ("[1, 2]", "no carrier found"),
        ("3", "input is a JSON number, not an object"),
        ('"text"', "input is a JSON string"),
        (b"\xff\xfe{", "input is not UTF-8 text"),
    ],
)
def test_bad_input_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "input.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"ctxcarry inspect: error: {message}")
    assert captured.err.count("\n") == 1


def test_missing_file_and_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["inspect", str(tmp_path / "absent.json")]) == 1
    assert (
        capsys.readouterr().err
        == f"ctxcarry inspect: error: no such file: {tmp_path / 'absent.json'}\n"
    )
    assert main(["inspect", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_bad_input_on_stdin_exits_non_zero_without_traceback() -> None:
    result = run_cli("inspect", stdin="{]")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("ctxcarry inspect: error: input is not valid JSON")
    assert "Traceback" not in result.stderr


def test_unimportable_module_is_an_error() -> None:
    result = run_cli("inspect", "--import", "no_such_module_xyz", stdin="{}")
    assert result.returncode == 1
    assert result.stderr == (
        "ctxcarry inspect: error: cannot import 'no_such_module_xyz': "
        "ModuleNotFoundError: No module named 'no_such_module_xyz'\n"
    )


@pytest.mark.parametrize(
    ("wrap", "found_at"),
    [
        (lambda c: {"payload": json.dumps(c)}, "$.payload"),
        (lambda c: [{"task": "t", "id": "1", "ctxcarry": c}, {}, ""], "$[0].ctxcarry"),
        (
            lambda c: {"properties": {"application_headers": {"ctxcarry": c}}},
            "$.properties.application_headers.ctxcarry",
        ),
    ],
)
def test_carrier_is_found_wherever_it_is_nested(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    trace_context_value: dict[str, Any],
    wrap: Any,
    found_at: str,
) -> None:
    report = inspect_json(capsys, write_json(tmp_path, wrap(trace_context_value)))
    assert report["found_at"] == found_at
    assert report["queuevars"]["cli_tenant"] == "acme"


@pytest.mark.parametrize(
    "text",
    [
        '{"structlog_context": {"n": ' + "9" * 4301 + "}}",
        '{"ctxcarry": {"v": ' + "7" * 5000 + ', "vars": {}}}',
        '{"ctxcarry": {"v": 1, "vars": {"unknown_var": ' + "1" * 4400 + "}}}",
    ],
    ids=["log value", "version", "unknown var"],
)
def test_an_integer_beyond_pythons_digit_limit_is_one_clear_line(
    text: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "huge.json"
    path.write_text(text)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "too many digits" in err


def test_values_outside_the_wire_rule_are_shown_as_dropped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    carrier = {
        "structlog_context": {"n": 2**64, "s": "\ud800", "ok": 1},
        "ctxcarry": {"v": 1, "vars": {"unknown_var": 2**60}},
    }
    report = inspect_json(capsys, write_json(tmp_path, carrier))
    assert report["structlog"] == {"ok": 1}
    assert any("'n'" in line for line in report["dropped"])
    assert any("'s'" in line for line in report["dropped"])


def test_import_finds_a_module_of_the_directory_it_runs_from(tmp_path: Path) -> None:
    """`ctxcarry inspect --import myproject_context` from the project root, like `celery -A`."""
    (tmp_path / "inspect_cwd_context.py").write_text(
        "from ctxcarry import QueueVar, codecs\n"
        "cwd_org = QueueVar('cli_cwd_org', default=None, codec=codecs.typed(int))\n"
    )
    script = Path(sys.executable).parent / "ctxcarry"
    carrier = json.dumps({"ctxcarry": {"v": 1, "vars": {"cli_cwd_org": 7}}})
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(script), "inspect", "--json", "--import", "inspect_cwd_context"],
        input=carrier,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "not registered here" not in result.stdout
