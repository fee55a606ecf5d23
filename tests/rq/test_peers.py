"""Coexistence with opentelemetry-instrumentation-rq and sentry-sdk, on both sides.

opentelemetry-instrumentation-rq keeps ``traceparent`` at the top level of
``job.meta`` and starts a consumer span in ``Worker.perform_job`` (not in
SimpleWorker); sentry-sdk keeps ``_sentry_trace_headers`` and wraps
``BaseWorker.perform_job``. The carrier is one key beside theirs, and the
carried trace is attached only when no span is active.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from rq import Queue

from ctxcarry.adapters.rq import META_KEY
from tests.rq.conftest import REPO, WorkerRunner, result

pytestmark = pytest.mark.integration


def _produce(rq_url: str, queue: Queue) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "tests.rq.produce_with_peers", rq_url, queue.name],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("worker_class", "order"),
    [
        ("rq.worker.Worker", "ours-first"),
        ("rq.worker.Worker", "otel-first"),
        ("rq.worker.SimpleWorker", "ours-first"),
    ],
)
def test_otel_rq_and_sentry_beside_the_adapter(
    rq_url: str, queue: Queue, run_worker: WorkerRunner, worker_class: str, order: str
) -> None:
    sent = _produce(rq_url, queue)
    meta = queue.fetch_job(sent["job"]).meta  # type: ignore[union-attr]
    assert {META_KEY, "traceparent", "_sentry_trace_headers"} <= meta.keys()
    assert meta[META_KEY]["traceparent"].split("-")[1] == sent["trace_id"]

    run = run_worker(queue, worker_class=worker_class, otel=order, sentry=True)
    assert run.returncode == 0, run.output
    report = result(queue, sent["job"])
    assert report["tenant"] == "acme"
    assert report["log"]["request_id"] == "r-peers"
    assert report["trace_id"] == sent["trace_id"]  # one trace, web request to job
    spans = run.spans()
    # The body runs in OTel's "perform" span (it wraps Job.perform, with the
    # traceparent it keeps in meta as the parent): one trace, web request to job.
    assert report["recording"]
    assert report["span_id"] in {s["span_id"] for s in spans}
    (job_ok,) = [line for line in run.log() if "Job OK" in line["message"]]
    assert job_ok["context"]["request_id"] == "r-peers"
    consume = [s for s in spans if s["name"].startswith("consume")]
    if worker_class == "rq.worker.Worker":
        # OTel's consumer span stays current around the job, whichever was
        # installed first: the carried trace never replaces an active span.
        assert consume
        assert consume[0]["trace_id"] == sent["trace_id"]
        assert job_ok["span_id"] == consume[0]["span_id"]
    else:
        # No consumer span around a SimpleWorker job: the carried trace is restored.
        assert not consume
        assert job_ok["span_id"] == sent["span_id"]
