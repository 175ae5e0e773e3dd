"""The async connection pool: pgvector registered on every connection, driver errors named.

A pool is created lazily and may vanish at any time (a Lambda freeze, a test), so
callers go through :meth:`Database.connection`, which opens the pool on first use and
turns "the database is down" into :class:`~shared.errors.DatabaseUnavailableError`
(a 503 with the JSON error shape) instead of a driver traceback. A connection that sat
idle for a while is checked before use; a broken one is discarded by the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from shared.errors import DatabaseUnavailableError
from shared.logging import get_logger

log = get_logger("parley.db")

Conn = psycopg.AsyncConnection[dict[str, Any]]
# Connections idle longer than this are checked with a round trip before use.
IDLE_CHECK_AFTER = 2.0
# How many nearest rows (and best full-text matches) retrieval keeps as candidates
# (shared.db.chunks; FAQ matching keeps 50, shared.db.faqs), and how many an HNSW index scan
# considers for them (pgvector's ef_search): twice as many, so the index finds nearly all of
# the exact top (parley bench scale --ef-search 100,200 measures recall against the exact
# scan: a 50,000-chunk bot's recall@10 0.97 with 100 and 0.99 with 200 as with 300; the
# largest bot's p50 18 ms with 200, 17 with 100, 23 with 300).
SEARCH_CANDIDATES = 100
HNSW_EF_SEARCH = 2 * SEARCH_CANDIDATES
SESSION_SETTINGS = f"SET hnsw.ef_search = {HNSW_EF_SEARCH}"


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Before the first migration the extension does not exist yet; connections
    # made then are recycled once the schema is in place (see Database.reset).
    with contextlib.suppress(psycopg.ProgrammingError):
        await register_vector_async(conn)
    await conn.set_autocommit(True)
    await conn.execute(SESSION_SETTINGS)


class Database:
    """One pool per process and database URL, created on first use."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        connection_class: type[Conn] = psycopg.AsyncConnection,
    ) -> None:
        self._url = url
        self._connection_class = connection_class
        self._min_size = min_size
        self._max_size = max_size
        self.timeout = timeout
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._last_used: dict[int, float] = {}
        self._lock = asyncio.Lock()

    @property
    def max_size(self) -> int:
        """How many connections the pool opens at most."""
        return self._max_size

    @property
    def url(self) -> str:
        """The connection URL (it may hold a password: never log it)."""
        return self._url

    async def pool(self) -> AsyncConnectionPool[Conn]:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
                        self._url,
                        connection_class=self._connection_class,
                        min_size=self._min_size,
                        max_size=self._max_size,
                        kwargs={"row_factory": dict_row},
                        configure=_configure,
                        check=self._check_if_idle,
                        open=False,
                        name="parley",
                    )
                    await pool.open(wait=False)
                    self._pool = pool
        return self._pool

    async def _check_if_idle(self, conn: Conn) -> None:
        """Check a connection that sat idle a while (the server may have restarted since);
        skip the round trip for one in steady use."""
        if time.monotonic() - self._last_used.get(id(conn), 0.0) > IDLE_CHECK_AFTER:
            await AsyncConnectionPool.check_connection(conn)

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[Conn]:
        """A pooled connection in autocommit mode; use ``conn.transaction()`` for units of work."""
        pool = await self.pool()
        try:
            async with pool.connection(
                timeout=self.timeout if timeout is None else timeout
            ) as conn:
                try:
                    yield conn
                finally:
                    if len(self._last_used) > 10 * self._max_size:
                        self._last_used.clear()  # retired connections; the rest get rechecked
                    self._last_used[id(conn)] = time.monotonic()
        except PoolTimeout:
            raise DatabaseUnavailableError() from None
        except psycopg.OperationalError as exc:
            log.warning("database error", exc_type=type(exc).__name__)
            # The server may have restarted: drop every other broken idle connection now,
            # so only requests already under way see the outage.
            with contextlib.suppress(Exception):
                await pool.check()
            raise DatabaseUnavailableError() from None

    def lease(self) -> Lease:
        """One connection for one request, taken on first use: ``async with db.lease() as l``."""
        return Lease(self)

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise DatabaseUnavailableError unless a query round-trips within ``timeout``.

        A second try on a fresh connection tells a restarted server (whose old
        connections are broken) from one that is down."""
        for attempt in (1, 2):
            try:
                async with self.connection(timeout=timeout) as conn:
                    await conn.execute("SELECT 1")
                return
            except DatabaseUnavailableError:
                if attempt == 2:
                    raise

    def stats(self) -> dict[str, int]:
        """The pool's counters (``requests_num``: connections handed out so far)."""
        return self._pool.get_stats() if self._pool is not None else {}

    async def reset(self) -> None:
        """Drop pooled connections (e.g. after migrations created the vector type)."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def close(self) -> None:
        await self.reset()


class Lease:
    """A request's one pooled connection: taken on first use, kept for the request's next
    statements, and given back early with :meth:`release` before slow work that needs no
    database (a model generating), then taken again if the request needs it afterwards.

    Errors raised while the connection is held leave through :meth:`Database.connection`,
    so a database outage is still a DatabaseUnavailableError (503).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._context: contextlib.AbstractAsyncContextManager[Conn] | None = None
        self._conn: Conn | None = None

    async def conn(self) -> Conn:
        if self._conn is None:
            context = self._db.connection()
            self._conn = await context.__aenter__()
            self._context = context
        return self._conn

    async def release(self) -> None:
        await self._close(None, None, None)

    async def _close(self, *exc_info: Any) -> bool | None:
        context, self._context, self._conn = self._context, None, None
        if context is None:
            return None
        return await context.__aexit__(*exc_info)

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._close(*exc_info)
