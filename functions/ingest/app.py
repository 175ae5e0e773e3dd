"""The ingest function. Ingestion: S3 events and polling -> parse -> chunk -> embed -> index;
log archiving.

Run in a container with `uvicorn functions.ingest.app:app`; on AWS Lambda the entry
point is `functions.ingest.app.handler`.
"""

from __future__ import annotations

from starlette.applications import Starlette

from shared.http.app import create_function_app, lambda_handler
from shared.http.endpoints import AnyEndpoint
from shared.runtime import Runtime

ENDPOINTS: list[AnyEndpoint] = []


def create_app(runtime: Runtime | None = None) -> Starlette:
    return create_function_app("ingest", ENDPOINTS, runtime=runtime)


app = create_app()
handler = lambda_handler(app)
