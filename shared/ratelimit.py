"""Rate limits shared by every process and replica: GCRA state in PostgreSQL.

One atomic statement per check. Each bucket keeps a "theoretical arrival time" (TAT);
a request is allowed when advancing the TAT by one emission interval keeps it within
one period of now, which allows ``limit`` requests per ``period`` including bursts.

    await check(conn, bucket="chat:pk_x:203.0.113.9", limit=20, period=60)
"""

from __future__ import annotations

from datetime import timedelta

from shared.db.pool import Conn
from shared.errors import RateLimitedError

_CHECK = """
WITH now AS (SELECT clock_timestamp() AS t),
upsert AS (
    INSERT INTO rate_limits AS r (bucket, tat, expires_at)
    SELECT %(bucket)s, now.t + %(interval)s, now.t + %(period)s FROM now
    ON CONFLICT (bucket) DO UPDATE
       SET tat = GREATEST(r.tat, EXCLUDED.tat - %(interval)s) + %(interval)s,
           expires_at = GREATEST(r.tat, EXCLUDED.tat - %(interval)s) + %(interval)s + %(period)s
     WHERE GREATEST(r.tat, EXCLUDED.tat - %(interval)s) + %(interval)s
           <= EXCLUDED.tat - %(interval)s + %(period)s
    RETURNING r.tat
)
SELECT (SELECT tat FROM upsert) AS allowed,
       (SELECT extract(epoch FROM r.tat + %(interval)s - %(period)s - now.t)
          FROM rate_limits r, now WHERE r.bucket = %(bucket)s) AS retry_after
"""


async def check(conn: Conn, *, bucket: str, limit: int, period: float) -> None:
    """Count one request against ``bucket``; raise RateLimitedError when over the limit."""
    interval = timedelta(seconds=period / limit)
    cur = await conn.execute(
        _CHECK, {"bucket": bucket, "interval": interval, "period": timedelta(seconds=period)}
    )
    row = await cur.fetchone()
    assert row is not None
    if row["allowed"] is None:
        raise RateLimitedError(float(row["retry_after"] or 1))


async def purge_expired(conn: Conn) -> int:
    cur = await conn.execute("DELETE FROM rate_limits WHERE expires_at < now()")
    return cur.rowcount
