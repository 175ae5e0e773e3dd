"""GCRA rate-limit state (the ``rate_limits`` table and ``parley_rate_check``, migration 0002)."""

from __future__ import annotations

from datetime import timedelta

from shared.db.pool import Conn


async def count(conn: Conn, *, bucket: str, interval: timedelta, period: timedelta) -> float:
    """Count one request; 0 when allowed, else the seconds until the next one is."""
    cur = await conn.execute(
        "SELECT parley_rate_check(%s, %s, %s) AS wait", (bucket, interval, period)
    )
    row = await cur.fetchone()
    assert row is not None
    return float(row["wait"])


async def purge_expired(conn: Conn) -> int:
    cur = await conn.execute("DELETE FROM rate_limits WHERE expires_at < now()")
    return cur.rowcount
