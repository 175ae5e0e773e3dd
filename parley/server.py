"""The local single process: the four function apps mounted by path, plus the demo site.

Start-up applies migrations, ensures the admin and seeds the demo shop; requests are
then dispatched by path prefix exactly as the reverse proxy routes them in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from html import escape as html_escape
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.admin.app import ENDPOINTS as ADMIN_ENDPOINTS
from functions.admin.app import create_app as create_admin
from functions.chat.app import ENDPOINTS as CHAT_ENDPOINTS
from functions.chat.app import create_app as create_chat
from functions.gdpr.app import ENDPOINTS as GDPR_ENDPOINTS
from functions.gdpr.app import create_app as create_gdpr
from functions.ingest.app import ENDPOINTS as INGEST_ENDPOINTS
from functions.ingest.app import create_app as create_ingest
from parley.routing import function_for
from shared import ratelimit
from shared.bootstrap import AdminBootstrap, demo_publishable_key, ensure_admin, seed_demo
from shared.db import sessions
from shared.db.migrate import migrate
from shared.http.app import create_function_app, health_endpoints
from shared.http.context import get_runtime
from shared.http.middleware import RequestContextMiddleware
from shared.http.openapi import openapi_document
from shared.http.security import page_policy
from shared.logging import get_logger
from shared.masterkey import verify_master_key
from shared.rag.index import check_embedding_model, embed_every_bot
from shared.runtime import Runtime

log = get_logger("parley.server")


async def prepare(
    runtime: Runtime,
    *,
    public_origin: str = "http://127.0.0.1:8000",
    announce: Callable[[AdminBootstrap], None] | None = None,
) -> None:
    """Migrate, ensure the admin, seed the demo: everything a first start needs."""
    async with runtime.db.connection() as conn:
        applied = await migrate(conn)
    if applied:
        # Connections opened before the vector type existed cannot use it.
        await runtime.db.reset()
    async with runtime.db.connection() as conn, conn.transaction():
        await verify_master_key(conn, runtime.keyring)
        admin = await ensure_admin(conn, runtime.settings)
        await ratelimit.purge_expired(conn)
        await sessions.purge_expired(conn)
    if admin is not None and announce is not None:
        announce(admin)
    if runtime.settings.demo_enabled:
        origins = sorted({public_origin, "http://127.0.0.1:8000", "http://localhost:8000"})
        await seed_demo(
            runtime.db,
            allowed_origins=origins,
            publishable_key=demo_publishable_key(runtime.keyring),
        )
    embedder = runtime.get_embedder()
    await embedder.warm_up()
    async with runtime.db.connection() as conn:
        embedded = await check_embedding_model(conn, embedder, runtime.embedder_for)
        embedded += await embed_every_bot(conn, runtime.embedder_for)
    if embedded:
        log.info("embedded pending texts", count=embedded)


# parley/static/widget.js links to widget/widget.js, so the file ships inside the package.
WIDGET = Path(str(resources.files("parley").joinpath("static/widget.js")))


DEMO_POLICY = page_policy()


async def demo_page(request: Request) -> Response:
    html = resources.files("parley").joinpath("static/demo.html").read_text(encoding="utf-8")
    runtime = get_runtime(request)
    if runtime.settings.demo_enabled:
        key = demo_publishable_key(runtime.keyring)
        tag = f'<script src="/widget.js" data-key="{html_escape(key)}" async></script>'
    else:
        tag = "<p><em>The demo is off (PARLEY_DEMO=0).</em></p>"
    return HTMLResponse(
        html.replace("<!-- parley-widget -->", tag),
        headers={"Cache-Control": "no-store", "Content-Security-Policy": DEMO_POLICY},
    )


async def widget_js(request: Request) -> Response:
    return FileResponse(
        WIDGET,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


EVERY_ENDPOINT = [*CHAT_ENDPOINTS, *ADMIN_ENDPOINTS, *INGEST_ENDPOINTS, *GDPR_ENDPOINTS]


def api_document() -> dict[str, Any]:
    """The whole API's OpenAPI description: the local server's /openapi.json, and
    docs/openapi.json, which the production proxy serves."""
    return openapi_document([*EVERY_ENDPOINT, *health_endpoints()], title="Parley")


class PathDispatcher:
    """Send each request to the app that owns its path prefix (see parley.routing)."""

    def __init__(self, functions: Mapping[str, ASGIApp], site: ASGIApp) -> None:
        self.functions = functions
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = function_for(scope["path"])
            if name is not None:
                await self.functions[name](scope, receive, send)
                return
        await self.site(scope, receive, send)


def create_local_app(runtime: Runtime) -> ASGIApp:
    """All four functions and the demo site on one runtime (run :func:`prepare` first)."""
    functions = {
        "chat": create_chat(runtime),
        "admin": create_admin(runtime),
        "ingest": create_ingest(runtime),
        "gdpr": create_gdpr(runtime),
    }

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runtime.aclose()

    site = create_function_app(
        "parley",
        [],
        runtime=runtime,
        documented=EVERY_ENDPOINT,
        extra_routes=[
            Route("/", demo_page, methods=["GET"]),
            Route("/widget.js", widget_js, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return RequestContextMiddleware(PathDispatcher(functions, site))
