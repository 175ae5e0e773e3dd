"""Build a function's ASGI app and its Lambda handler from a list of endpoints.

ENDPOINTS = [Endpoint("GET", "/v1/widget/config", widget_config, "Widget settings")]
app = create_function_app("chat", ENDPOINTS)
handler = lambda_handler(app)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from mangum import Mangum
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import Lifespan

from shared.auth.access import PUBLIC
from shared.http.context import get_runtime
from shared.http.endpoints import AnyEndpoint, Endpoint, build_routes
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.forwarded import ForwardedClientMiddleware
from shared.http.middleware import RequestContextMiddleware
from shared.http.openapi import openapi_document
from shared.http.security import SecurityHeadersMiddleware
from shared.metrics import MetricsMiddleware, metrics_endpoint
from shared.runtime import Runtime, default_runtime
from shared.scheduler import UnknownJobError, run_job


class HealthStatus(BaseModel):
    status: str


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    await get_runtime(request).db.ping()
    return JSONResponse({"status": "ready"})


def health_endpoints() -> list[Endpoint]:
    return [
        Endpoint(
            "GET",
            "/healthz",
            healthz,
            "The process is up",
            PUBLIC,
            response=HealthStatus,
            tag="health",
        ),
        Endpoint(
            "GET",
            "/readyz",
            readyz,
            "The database is reachable (503 otherwise)",
            PUBLIC,
            response=HealthStatus,
            tag="health",
        ),
    ]


def create_function_app(
    name: str,
    endpoints: Sequence[AnyEndpoint],
    *,
    runtime: Runtime | None = None,
    documented: Sequence[AnyEndpoint] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    lifespan: Lifespan[Any] | None = None,
    cors: bool = False,
) -> Starlette:
    """A Starlette app serving ``endpoints`` plus /healthz, /readyz and /openapi.json.

    ``documented`` is what /openapi.json describes (default: this app's own endpoints).
    ``cors`` lets browsers on any site call the app with a bearer token (no cookies): for
    the chat and GDPR APIs, whose publishable keys carry their own per-bot origin allow-list.
    """
    all_endpoints = [*endpoints, *health_endpoints()]
    document = openapi_document(
        [*(documented if documented is not None else endpoints), *health_endpoints()],
        title=f"Parley {name}" if name != "parley" else "Parley",
    )

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    app = Starlette(
        routes=[*build_routes(all_endpoints), *extra_routes],
        middleware=[
            Middleware(ForwardedClientMiddleware, runtime=runtime),
            Middleware(SecurityHeadersMiddleware),
            Middleware(RequestContextMiddleware),
            *(
                [
                    Middleware(
                        CORSMiddleware,
                        allow_origins=["*"],
                        allow_methods=["GET", "POST"],
                        allow_headers=[
                            "Authorization",
                            "Content-Type",
                            "Accept",
                            # a visitor proving who they are when reading a GDPR receipt
                            "X-Parley-Visitor-Id",
                            "X-Parley-Visitor-Token",
                        ],
                        max_age=600,
                    )
                ]
                if cors
                else []
            ),
            # Innermost, so it sees the route the router matched.
            Middleware(MetricsMiddleware, function=name),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.add_route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)
    # Not routed by the reverse proxy: only the stack's network (a scraper) reaches it.
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.state.runtime = runtime
    app.state.endpoints = list(endpoints)
    app.state.openapi = document
    return app


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_lambda_loop: asyncio.AbstractEventLoop | None = None


def lambda_loop() -> asyncio.AbstractEventLoop:
    """One event loop for the life of a Lambda process, shared by Mangum and direct
    handlers, so pools and clients created on it stay usable between invocations."""
    global _lambda_loop
    if _lambda_loop is None or _lambda_loop.is_closed():
        _lambda_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_lambda_loop)
    return _lambda_loop


def lambda_handler(app: Starlette, *, jobs: Sequence[str] = ()) -> LambdaHandler:
    """A Lambda entry point for ``app``: Mangum with lifespan off (pools and clients are
    created lazily instead). Mangum sets up an event loop when it is built, so it is
    built on the first invocation, not when a container merely imports the module.

    ``jobs`` are the scheduled jobs (shared.scheduler) this function runs: an EventBridge
    schedule invokes it with ``{"parley_job": "<name>"}`` as its input.
    """
    adapter: Mangum | None = None

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal adapter
        if isinstance(event, dict) and "parley_job" in event:
            return run_scheduled(str(event["parley_job"]), jobs)
        if adapter is None:
            lambda_loop()
            adapter = Mangum(app, lifespan="off")
        response: dict[str, Any] = adapter(event, context)
        return response

    return handler


def run_scheduled(name: str, jobs: Sequence[str]) -> dict[str, Any]:
    """Run one scheduled job on the process's runtime; an unknown or misrouted job fails
    the invocation (EventBridge retries it and CloudWatch shows it)."""
    if name not in jobs:
        raise UnknownJobError(f"this function runs the jobs {list(jobs)}, not {name!r}")
    result = lambda_loop().run_until_complete(run_job(default_runtime(), name))
    return {"job": name, "result": result}
