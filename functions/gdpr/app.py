"""The gdpr function. GDPR: erasure and export of a data subject's data, with an audit trail.

Run in a container with `uvicorn functions.gdpr.app:app`; on AWS Lambda the entry
point is `functions.gdpr.app.handler`.
"""

from __future__ import annotations

from starlette.applications import Starlette

from functions.gdpr.routes import ENDPOINTS as GDPR_ENDPOINTS
from shared.http.app import create_function_app, lambda_handler
from shared.http.endpoints import AnyEndpoint
from shared.runtime import Runtime

ENDPOINTS: list[AnyEndpoint] = [*GDPR_ENDPOINTS]

# The scheduled jobs this function runs on Lambda (infra/lambda/template.yaml); elsewhere
# `parley scheduler` runs them all.
JOBS = ("gdpr",)


def create_app(runtime: Runtime | None = None) -> Starlette:
    # The widget calls it from the shop's site; a publishable key's origin list decides.
    return create_function_app("gdpr", ENDPOINTS, runtime=runtime, cors=True)


app = create_app()
handler = lambda_handler(app, jobs=JOBS)
