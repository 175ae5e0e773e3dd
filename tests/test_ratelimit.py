"""Rate limits hold across processes: the state is one row per bucket in PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import psycopg
import pytest
from psycopg.rows import dict_row

from shared import ratelimit
from shared.errors import RateLimitedError


def burst(
    url: str,
    bucket: str,
    attempts: int,
    start_at: float,
    out: multiprocessing.Queue[tuple[int, float, float]],
):
    async def run() -> tuple[int, float, float]:
        allowed = 0
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=dict_row
        ) as conn:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            began = time.time()
            for _ in range(attempts):
                try:
                    await ratelimit.check(conn, bucket=bucket, limit=20, period=60)
                    allowed += 1
                except RateLimitedError:
                    pass
        return allowed, began, time.time()

    out.put(asyncio.run(run()))


def test_a_burst_from_two_processes_is_limited_at_the_configured_rate(db_url):
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[tuple[int, float, float]] = ctx.Queue()
    start_at = time.time() + 2.0
    procs = [
        ctx.Process(target=burst, args=(db_url, "chat:k:1.2.3.4", 40, start_at, out))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    # 80 attempts against 20/minute: 20 pass, plus at most one more per emission interval
    # (3 s) that elapsed during the burst.
    elapsed = max(r[2] for r in results) - min(r[1] for r in results)
    allowed = sum(r[0] for r in results)
    assert 20 <= allowed <= 20 + int(elapsed / 3) + 1, (results, elapsed)


async def test_retry_after_tells_when_the_next_request_passes(conn):
    for _ in range(3):
        await ratelimit.check(conn, bucket="b", limit=3, period=30)
    with pytest.raises(RateLimitedError) as info:
        await ratelimit.check(conn, bucket="b", limit=3, period=30)
    assert 1 <= info.value.retry_after <= 10  # one emission interval is 10 s
    await ratelimit.check(conn, bucket="other", limit=3, period=30)  # buckets are separate


async def test_a_secret_key_is_limited_on_every_api_route(make_client, runtime, world):
    from functions.admin.app import create_app

    limited = runtime.settings.model_copy(update={"api_rate_limit": 5})
    runtime.settings = limited
    client = make_client(create_app(runtime))
    headers = world.headers(world.tenants["a"].secret_key)
    statuses = [(await client.get("/v1/admin/bots", headers=headers)).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    other = await client.get("/v1/admin/bots", headers=world.headers(world.tenants["b"].secret_key))
    assert other.status_code == 200
