"""The ingest function. Ingestion: S3 events and polling -> parse -> chunk -> embed -> index;
log archiving.

Run in a container with `uvicorn functions.ingest.app:app`; on AWS Lambda the entry
point is `functions.ingest.app.handler`.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from functions.ingest import routes
from shared.http.app import create_function_app, lambda_handler, lambda_loop
from shared.http.endpoints import AnyEndpoint
from shared.ingest.events import is_s3_notification
from shared.runtime import Runtime, default_runtime

ENDPOINTS: list[AnyEndpoint] = [*routes.ENDPOINTS]

# The scheduled jobs this function runs on Lambda (infra/lambda/template.yaml); elsewhere
# `parley scheduler` runs them all.
JOBS = ("poll", "archive", "indexes", "paraphrase")


def create_app(runtime: Runtime | None = None) -> Starlette:
    return create_function_app("ingest", ENDPOINTS, runtime=runtime)


app = create_app()
_http = lambda_handler(app, jobs=JOBS)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda: S3 trigger records go straight to ingestion; HTTP events to the app, and
    scheduled jobs (poll, archive) to the scheduler."""
    if is_s3_notification(event):
        results = lambda_loop().run_until_complete(routes.handle_records(default_runtime(), event))
        return {"results": results}
    return _http(event, context)
