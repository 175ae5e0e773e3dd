"""Rate limits shared by every process and replica: GCRA state in PostgreSQL.

One atomic statement per check (``parley_rate_check``, migration 0002). Each bucket keeps
a "theoretical arrival time" (TAT); a request is allowed when advancing the TAT by one
emission interval keeps it within one period of now, which allows ``limit`` requests per
``period`` including bursts.

    await check(conn, bucket="login:addr:203.0.113.9", limit=30, period=300)
"""

from __future__ import annotations

from datetime import timedelta

from shared import metrics
from shared.db import rate_limits
from shared.db.pool import Conn
from shared.errors import RateLimitedError


async def check(conn: Conn, *, bucket: str, limit: int, period: float) -> None:
    """Count one request against ``bucket``; raise RateLimitedError when over the limit."""
    wait = await rate_limits.count(
        conn,
        bucket=bucket,
        interval=timedelta(seconds=period / limit),
        period=timedelta(seconds=period),
    )
    raise_if_limited(wait)


def raise_if_limited(wait: float | None) -> None:
    """``wait`` as parley_rate_check returns it: 0 (or NULL, not counted) means go ahead."""
    if wait:
        metrics.RATE_LIMITED.inc()
        raise RateLimitedError(float(wait))


async def purge_expired(conn: Conn) -> int:
    return await rate_limits.purge_expired(conn)
