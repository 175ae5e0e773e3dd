"""The admin function. Admin API: login, tenants, bots, FAQs, documents, API keys, users, logs,
analytics, and the inbox of conversations handed to a person.

Run in a container with `uvicorn functions.admin.app:app`; on AWS Lambda the entry
point is `functions.admin.app.handler`.
"""

from __future__ import annotations

from starlette.applications import Starlette

from functions.admin.routes import (
    auth,
    bots,
    conversations,
    documents,
    faqs,
    gaps,
    gdpr,
    inbox,
    keys,
    tenants,
    users,
)
from shared.http.app import create_function_app, lambda_handler
from shared.http.endpoints import AnyEndpoint
from shared.runtime import Runtime

ENDPOINTS: list[AnyEndpoint] = [
    *auth.ENDPOINTS,
    *tenants.ENDPOINTS,
    *bots.ENDPOINTS,
    *faqs.ENDPOINTS,
    *documents.ENDPOINTS,
    *keys.ENDPOINTS,
    *users.ENDPOINTS,
    *conversations.ENDPOINTS,
    *inbox.ENDPOINTS,
    *gdpr.ENDPOINTS,
    *gaps.ENDPOINTS,
]

# The scheduled jobs this function runs on Lambda (infra/lambda/template.yaml); elsewhere
# `parley scheduler` runs them all.
JOBS = ("purge",)


def create_app(runtime: Runtime | None = None) -> Starlette:
    return create_function_app("admin", ENDPOINTS, runtime=runtime)


app = create_app()
handler = lambda_handler(app, jobs=JOBS)
