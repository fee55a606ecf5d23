"""Threads and asyncio: each unit of work sees its own context, pools do not leak."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from opentelemetry import trace

from ctxcarry import (
    ContextThread,
    ContextThreadPoolExecutor,
    carry,
    extract,
    inject,
    run_carried,
)
from tests.core.vars import org_id, tenant_id

get_log = structlog.contextvars.get_contextvars


def _carrier_for(i: int) -> dict[str, Any]:
    structlog.contextvars.bind_contextvars(request_id=f"r-{i}")
    try:
        with tenant_id(f"t-{i}"), org_id(i):
            return inject()
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


def test_reused_pool_threads_never_leak_between_tasks() -> None:
    carriers = [_carrier_for(i) for i in range(400)]

    def task(i: int) -> tuple[int, Any, Any, Any, dict[str, Any]]:
        leftover = (tenant_id.get(), get_log())
        with extract(carriers[i]) if i % 2 == 0 else extract(None):
            seen = (tenant_id.get(), org_id.get())
            structlog.contextvars.bind_contextvars(bound_by_task=i)
            tenant_id.set("set by the task body")
        return i, leftover, seen[0], seen[1], get_log()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(task, range(400)))
    for i, leftover, seen_tenant, seen_org, after in results:
        assert leftover == (None, {})
        if i % 2 == 0:
            assert (seen_tenant, seen_org) == (f"t-{i}", i)
        else:
            assert (seen_tenant, seen_org) == (None, None)
        assert after == {}


def test_concurrent_asyncio_tasks_each_see_their_own_context() -> None:
    carriers = [_carrier_for(i) for i in range(200)]

    async def handle(i: int) -> tuple[int, list[Any]]:
        seen = []
        with extract(carriers[i]):
            for _ in range(3):
                await asyncio.sleep(0)
                seen.append((tenant_id.get(), get_log().get("request_id"), inject()))
        return i, seen

    async def main() -> list[tuple[int, list[Any]]]:
        return await asyncio.gather(*(handle(i) for i in range(200)))

    for i, seen in asyncio.run(main()):
        for tenant, request_id, onward in seen:
            assert tenant == f"t-{i}"
            assert request_id == f"r-{i}"
            assert onward["ctxcarry"]["vars"]["core_tenant_id"] == f"t-{i}"
    assert tenant_id.get() is None


def test_plain_threads_and_pools_lose_context_and_the_helpers_carry_it() -> None:
    results: dict[str, Any] = {}

    def report(label: str) -> None:
        results[label] = (tenant_id.get(), get_log().get("request_id"))

    structlog.contextvars.bind_contextvars(request_id="r-1")
    with tenant_id("acme"):
        plain = threading.Thread(target=report, args=("plain",))
        helper_thread = ContextThread(target=report, args=("ContextThread",))
        wrapped = threading.Thread(target=carry(report), args=("carry",))
        with ThreadPoolExecutor(1) as pool:
            pool.submit(report, "pool").result()
        with ContextThreadPoolExecutor(1) as pool:
            pool.submit(report, "ContextThreadPoolExecutor").result()
    for t in (plain, helper_thread, wrapped):
        t.start()
        t.join()
    assert results["plain"] == (None, None)
    assert results["pool"] == (None, None)
    for label in ("ContextThread", "carry", "ContextThreadPoolExecutor"):
        assert results[label] == ("acme", "r-1"), label


def test_context_helpers_never_leak_back_into_the_pool_thread() -> None:
    def bind_and_leave() -> None:
        structlog.contextvars.bind_contextvars(left_behind=True)
        tenant_id.set("left behind")

    def look() -> tuple[Any, dict[str, Any]]:
        return tenant_id.get(), get_log()

    with ContextThreadPoolExecutor(1) as pool:
        pool.submit(bind_and_leave).result()
        # The probe runs in the pool thread's own context (the base class's submit
        # wraps nothing), which is where a leak would be left.
        leftover = ThreadPoolExecutor.submit(pool, look).result()
    assert leftover == (None, {})


def test_run_carried_in_a_pool_thread_sees_the_carrier_and_leaves_nothing(
    tracer: trace.Tracer,
) -> None:
    with tracer.start_as_current_span("enqueue") as parent:
        carrier = _carrier_for(5)

    def job() -> tuple[Any, Any, int]:
        with tracer.start_as_current_span("job") as span:
            structlog.contextvars.bind_contextvars(job_key=1)
            assert span.parent is not None
            return tenant_id.get(), get_log().get("request_id"), span.parent.span_id

    def leftovers() -> tuple[Any, dict[str, Any]]:
        return tenant_id.get(), get_log()

    with ThreadPoolExecutor(1) as pool:
        seen = pool.submit(run_carried, carrier, job).result()
        after = pool.submit(leftovers).result()
    assert seen == ("t-5", "r-5", parent.get_span_context().span_id)
    assert after == (None, {})
