"""The chat function. Visitor chat: HTTP, SSE and WebSocket; widget config; feedback;
asking for a person and reading their replies.

Run in a container with `uvicorn functions.chat.app:app`; on AWS Lambda the entry
point is `functions.chat.app.handler`.
"""

from __future__ import annotations

from starlette.applications import Starlette

from functions.chat.routes import handoff, http, try_page, ws
from shared.http.app import create_function_app, lambda_handler
from shared.http.endpoints import AnyEndpoint
from shared.runtime import Runtime

ENDPOINTS: list[AnyEndpoint] = [
    *http.ENDPOINTS,
    *handoff.ENDPOINTS,
    *ws.ENDPOINTS,
    *try_page.ENDPOINTS,
]


# The scheduled job this function runs on Lambda (infra/lambda/template.yaml); elsewhere
# `parley scheduler` runs them all.
JOBS = ("notify",)


def create_app(runtime: Runtime | None = None) -> Starlette:
    return create_function_app("chat", ENDPOINTS, runtime=runtime, cors=True)


app = create_app()
handler = lambda_handler(app, jobs=JOBS)
