"""/readyz follows the database: 503 with the JSON error shape while it is down, 200 after."""

from __future__ import annotations

import os

import pytest

from parley.server import create_local_app, prepare
from shared.config import load_settings
from shared.crypto import Keyring
from shared.db.embedded import EmbeddedPostgres
from shared.db.pool import Database
from shared.runtime import Runtime


@pytest.fixture
def own_server(tmp_path):
    """A PostgreSQL of this test's own, since the test stops and starts it."""
    server = EmbeddedPostgres(tmp_path / "pg", delete_on_stop=True)
    server.start()
    yield server
    server.stop()


async def test_readyz_is_503_while_the_database_is_down_and_200_when_back(
    own_server, make_client, tmp_path
):
    settings = load_settings(
        {"DATABASE_URL": own_server.url, "PARLEY_DATA_DIR": str(tmp_path)}, env_file=None
    )
    runtime = Runtime(
        settings, Database(own_server.url, timeout=1.0), keyring=Keyring(os.urandom(32))
    )
    await prepare(runtime)
    client = make_client(create_local_app(runtime))
    try:
        assert (await client.get("/readyz")).status_code == 200

        own_server.pg_ctl("stop", "-m", "fast")
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "error": {
                "code": "database_unavailable",
                "message": "The database is unavailable; try again shortly.",
            }
        }
        assert response.headers["x-request-id"]
        assert (await client.get("/healthz")).status_code == 200

        own_server.pg_ctl("restart")  # reuses the server's own options (socket dir)
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        for _ in range(5):  # the broken connections of before the restart are gone
            async with runtime.db.connection() as conn:
                await conn.execute("SELECT 1")
    finally:
        await runtime.aclose()
