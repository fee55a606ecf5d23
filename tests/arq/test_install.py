"""install/uninstall, worker_settings, and the hand-off arq's run_job makes possible.

These run arq's real ``Worker`` in this process (burst mode), as arq's own
tests and users' tests do, on Redis DB 10.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest
import structlog
from arq import Worker
from arq.connections import RedisSettings
from arq.worker import func

from ctxcarry import Carrier
from ctxcarry.adapters import arq as ctxcarry_arq
from ctxcarry.adapters.arq import ENVELOPE_KEY, install, is_installed, uninstall, worker_settings
from ctxcarry.adapters.arq.serializer import CarryingDeserializer, CarryingSerializer, take_handoff
from tests.arq.conftest import producer, run, unique_queue
from tests.arq.worker_app import tenant

pytestmark = pytest.mark.integration

JOB = {"t": None, "f": "fn", "a": (), "k": {}, "et": 0}


def test_install_semantics() -> None:
    assert not is_installed()
    serializer = CarryingSerializer()
    with tenant("acme"):
        assert ENVELOPE_KEY not in pickle.loads(serializer(dict(JOB)))  # not installed
        install()
        assert is_installed()
        carried = pickle.loads(serializer(dict(JOB)))[ENVELOPE_KEY]
        assert carried["ctxcarry"]["vars"] == {"arq_tests.tenant": "acme"}
        install(Carrier(carry_queuevars=False))  # a Carrier replaces ...
        assert "ctxcarry" not in pickle.loads(serializer(dict(JOB))).get(ENVELOPE_KEY, {})
        install()  # ... and install() without one keeps it
        assert "ctxcarry" not in pickle.loads(serializer(dict(JOB))).get(ENVELOPE_KEY, {})
        uninstall()  # forgets it; every serializer built earlier passes through
        assert not is_installed()
        assert ENVELOPE_KEY not in pickle.loads(serializer(dict(JOB)))
        install()
        assert "ctxcarry" in pickle.loads(serializer(dict(JOB)))[ENVELOPE_KEY]


def test_results_are_never_touched() -> None:
    install()
    with tenant("acme"):
        data = {**JOB, "s": True, "r": 1}
        assert pickle.loads(CarryingSerializer()(data)) == data


def test_pool_options_wrap_your_serializers() -> None:
    calls: list[str] = []

    def dumps(data: dict[str, Any]) -> bytes:
        calls.append("dumps")
        return pickle.dumps(data)

    def loads(raw: bytes) -> dict[str, Any]:
        calls.append("loads")
        return pickle.loads(raw)  # type: ignore[no-any-return]

    options = ctxcarry_arq.pool_options(job_serializer=dumps, job_deserializer=loads)
    assert is_installed()
    with tenant("acme"):
        blob = options["job_serializer"](dict(JOB))
    assert options["job_deserializer"](blob)[ENVELOPE_KEY]["ctxcarry"]["vars"]
    assert calls == ["dumps", "loads"]


def test_worker_settings_composes_with_your_hooks_and_is_idempotent() -> None:
    async def start(ctx: dict[str, Any]) -> None: ...

    settings: dict[str, Any] = {"on_job_start": start, "job_serializer": pickle.dumps}
    assert worker_settings(settings) is settings
    first = dict(settings)
    worker_settings(settings)
    assert settings == first  # wrapped once
    assert isinstance(settings["job_serializer"], CarryingSerializer)
    assert settings["job_serializer"].inner is pickle.dumps
    assert isinstance(settings["job_deserializer"], CarryingDeserializer)
    assert settings["job_deserializer"].hands_off
    assert settings["on_job_start"].user is start

    class Base:
        on_job_end = start

    @worker_settings
    class Settings(Base):
        functions: list[Any] = []  # noqa: RUF012

    # arq reads only the class's own __dict__: an inherited hook is not one arq would
    # call, so there is nothing to compose (and no on_job_end of the adapter's own)
    assert "on_job_end" not in Settings.__dict__
    assert Settings.__dict__["after_job_end"].user is None
    assert "job_serializer" in Settings.__dict__


def test_a_handoff_is_used_only_in_the_task_that_made_it() -> None:
    install()
    deserializer = CarryingDeserializer(hands_off=True)
    blob = pickle.dumps({**JOB, ENVELOPE_KEY: {"structlog_context": {"a": 1}}})

    async def scenario() -> tuple[Any, Any]:
        deserializer(blob)  # in this task
        inherited = await asyncio.create_task(_take())  # a task with a copy of its context
        return inherited, take_handoff()

    async def _take() -> Any:
        return take_handoff()

    inherited, own = asyncio.run(scenario())
    assert inherited is None
    assert own.raw == {"structlog_context": {"a": 1}}
    assert own.function == "fn"


async def _run_worker(url: str, queue: str, settings: dict[str, Any]) -> Worker:
    worker = Worker(
        **worker_settings(
            {
                "queue_name": queue,
                "redis_settings": RedisSettings.from_dsn(url),
                "burst": True,
                "handle_signals": False,
                "poll_delay": 0.05,
                "keep_result": 60,
                **settings,
            }
        )
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker


async def _forget(pool: Any, queue: str, job_id: str) -> None:
    """Delete a job that arq left "in progress" (its hooks raised)."""
    keys = (f"arq:{kind}:{job_id}" for kind in ("job", "in-progress", "retry", "result"))
    await pool.delete(queue, *keys)


def test_run_job_deserializes_in_the_task_that_runs_on_job_start(arq_url: str) -> None:
    """Pins what the hand-off relies on in arq's Worker.run_job, and the hooks' order."""
    queue = unique_queue("pin-")
    seen: dict[str, Any] = {}

    def loads(raw: bytes) -> dict[str, Any]:
        seen.setdefault("deserialized_in", asyncio.current_task())
        return pickle.loads(raw)  # type: ignore[no-any-return]

    async def start(ctx: dict[str, Any]) -> None:
        seen["started_in"] = asyncio.current_task()
        seen["start_saw"] = (tenant.get(), structlog.contextvars.get_contextvars())

    async def end(ctx: dict[str, Any]) -> None:
        seen["end_saw"] = tenant.get()

    async def job(ctx: dict[str, Any]) -> str | None:
        return tenant.get()

    job_function = func(job, name="job")

    async def scenario() -> Any:
        pool = await producer(arq_url, queue)
        with tenant("acme"):
            enqueued = await pool.enqueue_job("job")
        await _run_worker(
            arq_url,
            queue,
            {
                "functions": [job_function],
                "job_deserializer": loads,
                "on_job_start": start,
                "after_job_end": end,
            },
        )
        value = await enqueued.result(timeout=5)
        await pool.aclose()
        return value

    assert run(scenario()) == "acme"
    assert seen["deserialized_in"] is seen["started_in"]
    assert seen["start_saw"][0] == "acme"  # your on_job_start runs inside the job's context
    assert seen["start_saw"][1]["task_name"] == "job"
    assert seen["end_saw"] == "acme"  # and your after_job_end too
    from ctxcarry.adapters.arq import worker as worker_module

    assert worker_module._scopes._by_key == {}  # every scope was closed


def test_your_raising_on_job_start_still_gets_the_context_undone(arq_url: str) -> None:
    """arq skips the end hooks and stops the worker; the adapter undoes its scope first."""
    from ctxcarry.adapters.arq import worker as worker_module

    queue = unique_queue("raising-")

    async def start(ctx: dict[str, Any]) -> None:
        raise RuntimeError("user hook")

    async def job(ctx: dict[str, Any]) -> None: ...

    job_function = func(job, name="job")

    async def scenario() -> None:
        pool = await producer(arq_url, queue)
        with tenant("acme"):
            enqueued = await pool.enqueue_job("job")
        settings = {"functions": [job_function], "on_job_start": start}
        try:
            with pytest.raises(RuntimeError, match="user hook"):
                await _run_worker(arq_url, queue, settings)
        finally:  # the job stays "in progress": remove it
            await _forget(pool, queue, enqueued.job_id)
            await pool.aclose()

    run(scenario())
    assert worker_module._scopes._by_key == {}


def test_your_raising_on_job_end_still_gets_the_context_undone(arq_url: str) -> None:
    """arq skips after_job_end when on_job_end raises; the adapter undoes its scope first."""
    from ctxcarry.adapters.arq import worker as worker_module

    queue = unique_queue("raising-end-")

    async def end(ctx: dict[str, Any]) -> None:
        raise RuntimeError("user end hook")

    async def job(ctx: dict[str, Any]) -> None: ...

    async def scenario() -> None:
        pool = await producer(arq_url, queue)
        enqueued = await pool.enqueue_job("job")
        settings = {"functions": [func(job, name="job")], "on_job_end": end}
        try:
            with pytest.raises(RuntimeError, match="user end hook"):
                await _run_worker(arq_url, queue, settings)
        finally:
            await _forget(pool, queue, enqueued.job_id)
            await pool.aclose()

    run(scenario())
    assert worker_module._scopes._by_key == {}


def test_a_redis_pool_given_to_the_worker_gets_the_serializers() -> None:
    from arq.connections import ArqRedis

    pool = ArqRedis(host="127.0.0.1", port=6379, db=10)  # not connected until used
    settings = worker_settings({"redis_pool": pool})
    assert settings["redis_pool"] is pool
    assert isinstance(pool.job_serializer, CarryingSerializer)
    assert isinstance(pool.job_deserializer, CarryingDeserializer)
    assert not pool.job_deserializer.hands_off  # job.info() never hands anything off


def test_the_hooks_never_raise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever fails inside the adapter's hooks is logged; arq never sees it."""
    from ctxcarry.adapters.arq import worker as worker_module

    install()

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("broken")

    def broken() -> Any:
        raise RuntimeError("broken")

    monkeypatch.setattr(worker_module, "take_handoff", broken)
    monkeypatch.setattr(worker_module, "_scopes", Broken())
    ctx = {"job_id": "j"}
    with caplog.at_level("ERROR", logger="ctxcarry"):
        asyncio.run(worker_module._OnJobStart(None)(ctx))
        asyncio.run(worker_module._AfterJobEnd(None)(ctx))
    failed = [r.getMessage() for r in caplog.records]
    assert any("arq on_job_start failed" in m for m in failed)
    assert any("arq after_job_end failed" in m for m in failed)
