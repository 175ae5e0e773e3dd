"""Rate limits shared by every process and replica: GCRA state in PostgreSQL.

One atomic statement per check (``parley_rate_check``, migration 0002). Each bucket keeps
a "theoretical arrival time" (TAT); a request is allowed when advancing the TAT by one
emission interval keeps it within one period of now, which allows ``limit`` requests per
``period`` including bursts.

    await check(conn, bucket="login:addr:203.0.113.9", limit=30, period=300)
"""

from __future__ import annotations

from datetime import timedelta

from shared.db.pool import Conn
from shared.errors import RateLimitedError

_CHECK = "SELECT parley_rate_check(%(bucket)s, %(interval)s, %(period)s) AS wait"


async def check(conn: Conn, *, bucket: str, limit: int, period: float) -> None:
    """Count one request against ``bucket``; raise RateLimitedError when over the limit."""
    cur = await conn.execute(
        _CHECK,
        {
            "bucket": bucket,
            "interval": timedelta(seconds=period / limit),
            "period": timedelta(seconds=period),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    raise_if_limited(row["wait"])


def raise_if_limited(wait: float | None) -> None:
    """``wait`` as parley_rate_check returns it: 0 (or NULL, not counted) means go ahead."""
    if wait:
        raise RateLimitedError(float(wait))


async def purge_expired(conn: Conn) -> int:
    cur = await conn.execute("DELETE FROM rate_limits WHERE expires_at < now()")
    return cur.rowcount
