"""Fixtures: one PostgreSQL for the session, a fresh database per test, apps and servers.

The server is the embedded one from ``pgserver`` unless DATABASE_URL names another (the
role needs CREATEDB). Each test gets its own database, cloned from a migrated template,
so tests never see each other's rows.
"""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psycopg
import pytest
from psycopg import sql
from starlette.types import ASGIApp

from shared.config import Settings, load_settings
from shared.crypto import Keyring
from shared.db.embedded import EmbeddedPostgres
from shared.db.migrate import migrate
from shared.db.pool import Database
from shared.embeddings.base import Embedder
from shared.embeddings.cached import CachedEmbedder
from shared.embeddings.factory import local_embedder
from shared.runtime import Runtime

pytest_plugins = ["tests.chat_fixtures", "tests.utils.browser"]

TEMPLATE_DB = "parley_test_template"


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the session's PostgreSQL server (its maintenance database)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", delete_on_stop=True)
    url = embedded.start()
    yield url
    embedded.stop()


def admin_execute(server_url: str, statement: sql.Composed) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
async def template_db(pg_server: str) -> str:
    """A database with every migration applied, cloned for each test."""
    admin_execute(
        pg_server, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DB))
    )
    admin_execute(pg_server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    url = database_url(pg_server, TEMPLATE_DB)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await migrate(conn)  # type: ignore[arg-type]
    return TEMPLATE_DB


@pytest.fixture
def make_database(pg_server: str) -> Iterator[Callable[..., str]]:
    """Factory: a new empty (or templated) database; dropped after the test."""
    created: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"parley_test_{uuid.uuid4().hex[:12]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        admin_execute(pg_server, statement)
        created.append(name)
        return database_url(pg_server, name)

    yield make
    for name in created:
        admin_execute(
            pg_server,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


@pytest.fixture
def db_url(make_database: Callable[..., str], template_db: str) -> str:
    """A migrated database of this test's own."""
    return make_database(template_db)


@pytest.fixture(scope="session", autouse=True)
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for the local model's ONNX file, exported once for the whole session:
    every runtime and every ``parley serve`` the tests start (they inherit the environment)
    uses it, instead of exporting into each one's data dir."""
    folder = tmp_path_factory.mktemp("models")
    before = os.environ.get("PARLEY_MODEL_DIR")
    os.environ["PARLEY_MODEL_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("PARLEY_MODEL_DIR", None)
    else:
        os.environ["PARLEY_MODEL_DIR"] = before


@pytest.fixture
def make_settings(tmp_path: Path, model_dir: Path) -> Callable[..., Settings]:
    def make(**env: str) -> Settings:
        base = {
            "PARLEY_DATA_DIR": str(tmp_path / "data"),
            "PARLEY_DEMO": "0",
            "PARLEY_MODEL_DIR": str(model_dir),
        }
        return load_settings({**base, **env}, env_file=None)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], db_url: str) -> Settings:
    return make_settings(DATABASE_URL=db_url)


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Embedder:
    """The real local model on the default runner, loaded once for the whole session."""
    return CachedEmbedder(local_embedder(model_dir=model_dir))


@pytest.fixture
async def runtime(settings: Settings, db_url: str, embedder: Embedder) -> AsyncIterator[Runtime]:
    keyring = Keyring(os.urandom(32))
    rt = Runtime(
        settings=settings, db=Database(db_url, max_size=4), keyring=keyring, embedder=embedder
    )
    yield rt
    await rt.aclose()


@pytest.fixture
async def conn(runtime: Runtime) -> AsyncIterator[psycopg.AsyncConnection[dict[str, object]]]:
    async with runtime.db.connection() as connection:
        yield connection


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[[ASGIApp], httpx2.AsyncClient]]:
    """Factory: an httpx2 client talking to an ASGI app in-process."""
    clients: list[httpx2.AsyncClient] = []

    def make(app: ASGIApp) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
def password_hash() -> str:
    from shared.passwords import hash_password
    from tests.utils.world import PASSWORD

    return hash_password(PASSWORD)


@pytest.fixture
async def world(runtime: Runtime, password_hash: str):
    from tests.utils.world import build_world

    return await build_world(runtime, password_hash)


@pytest.fixture
def admin_client(make_client, runtime):
    from functions.admin.app import create_app

    return make_client(create_app(runtime))


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Parley's JSON log lines of this test, at DEBUG."""
    from shared.logging import configure_logging

    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    yield stream
    logging.getLogger("parley").handlers.clear()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's S3 server on a free loopback port; boto3 talks to it for real."""
    from moto.server import ThreadedMotoServer

    from tests.utils.servers import free_port

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_url: str) -> tuple[str, object]:
    """A fresh bucket of this test's own, and a boto3 client for it."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"parley-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client
