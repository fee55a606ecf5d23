"""ctxcarry.testing: the helpers users put in their own test suites."""

from __future__ import annotations

import contextvars
import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace

from ctxcarry import Carrier, CarrierError, QueueVar
from ctxcarry.testing import ContextSnapshot, across_queue, assert_no_leak, run_across_queue

region = QueueVar("testing_region", default="eu")
plain = contextvars.ContextVar("testing_plain", default="unset")


def trace_id_now() -> int:
    return trace.get_current_span().get_span_context().trace_id


def test_across_queue_restores_what_travelled_and_leaves_the_caller_exact(
    tracer: trace.Tracer,
) -> None:
    with (
        tracer.start_as_current_span("request"),
        region("us"),
        structlog.contextvars.bound_contextvars(request_id="r-1"),
    ):
        caller_trace = trace_id_now()
        with assert_no_leak(), across_queue() as received:
            assert region.get() == "us"
            assert received[region] == "us"
            assert structlog.contextvars.get_contextvars() == {"request_id": "r-1"}
            assert trace_id_now() == caller_trace
            assert trace.get_current_span().get_span_context().is_remote
            structlog.contextvars.bind_contextvars(task_key="bound by the task")
            region.set("changed by the task")
        assert region.get() == "us"


def test_across_queue_shows_only_what_fits_the_carrier() -> None:
    small = Carrier(max_bytes=256)
    with structlog.contextvars.bound_contextvars(request_id="r-2", blob="x" * 1000):
        with across_queue(small):
            assert structlog.contextvars.get_contextvars() == {"request_id": "r-2"}
        assert structlog.contextvars.get_contextvars()["blob"] == "x" * 1000


def test_across_queue_starts_from_a_blank_worker() -> None:
    not_carried = Carrier(carry_structlog=False)
    with region("us"), structlog.contextvars.bound_contextvars(request_id="r-3"):
        with across_queue(not_carried):
            assert structlog.contextvars.get_contextvars() == {}
            assert region.get() == "us"
        assert structlog.contextvars.get_contextvars() == {"request_id": "r-3"}


def test_run_across_queue_runs_in_a_brand_new_context() -> None:
    token = plain.set("caller's")
    try:
        with region("apac"):
            seen = run_across_queue(lambda: (region.get(), plain.get()))
    finally:
        plain.reset(token)
    assert seen == ("apac", "unset")


def test_strict_carrier_raises_across_the_queue() -> None:
    strict = Carrier(max_bytes=256, strict=True)
    with (
        structlog.contextvars.bound_contextvars(blob="x" * 1000),
        pytest.raises(CarrierError),
        across_queue(strict),
    ):
        pass


def test_assert_no_leak_names_a_leaked_structlog_key() -> None:
    leak = "structlog key 'tenant' leaked: now bound to 'acme'"
    with pytest.raises(AssertionError, match=leak), assert_no_leak():
        structlog.contextvars.bind_contextvars(tenant="acme")


def test_assert_no_leak_names_a_changed_queuevar() -> None:
    token = None
    leak = "QueueVar 'testing_region' leaked: now bound to 'us'"
    with pytest.raises(AssertionError, match=leak), assert_no_leak():
        token = region.set("us")
    assert token is not None
    region.reset(token)


def test_assert_no_leak_catches_an_attached_otel_context(tracer: trace.Tracer) -> None:
    span = tracer.start_span("leaky")
    token = None
    try:
        leak = "OpenTelemetry context changed: no span -> span"
        with pytest.raises(AssertionError, match=leak), assert_no_leak():
            token = otel_context.attach(trace.set_span_in_context(span))
    finally:
        if token is not None:
            otel_context.detach(token)
        span.end()


def test_assert_no_leak_passes_a_clean_block_and_snapshot_diffs_are_empty() -> None:
    with assert_no_leak() as before, region("us"), structlog.contextvars.bound_contextvars(a=1):
        pass
    assert before.differences(ContextSnapshot.take()) == []


def _plugin_args() -> list[str]:
    """``-p ctxcarry.testing`` unless the installed package already registers the plugin."""
    groups = importlib.metadata.entry_points(group="pytest11")
    if any(ep.value.startswith("ctxcarry.testing") for ep in groups):
        return []
    return ["-p", "ctxcarry.testing"]


def test_pytest_fixtures_in_a_users_suite(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest, structlog
            from ctxcarry import CarrierError, QueueVar, inject

            user_var = QueueVar("user_suite_var", default=None)

            def test_clean(ctxcarry_no_leak):
                with structlog.contextvars.bound_contextvars(a=1):
                    pass

            def test_leaky(ctxcarry_no_leak):
                structlog.contextvars.bind_contextvars(leaked="yes")

            def test_strict(ctxcarry_strict):
                with structlog.contextvars.bound_contextvars(blob="x" * 40000):
                    with pytest.raises(CarrierError):
                        inject()

            def test_across(ctxcarry_across_queue):
                with user_var("v"), ctxcarry_across_queue() as received:
                    assert received[user_var] == "v"
            """
        )
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:django\n")
    # A user's project: no Django settings of ours.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_plugin_args()],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    # test_leaky itself passes; the fixture fails it at teardown.
    assert "4 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert "ERROR at teardown of test_leaky" in result.stdout
    assert "structlog key 'leaked' leaked: now bound to 'yes'" in result.stdout
