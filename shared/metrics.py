"""Prometheus metrics: what each function process counts, and ``/metrics`` to read them.

Every function serves ``GET /metrics`` in the Prometheus text format; the reverse proxy
never routes it, so only the stack's own network (a Prometheus scraper) reaches it.
Labels are bounded on purpose: routes are path templates (``/v1/admin/bots/{bot_id}``),
never raw paths, and nothing identifies a tenant, a visitor or a question.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_FAST = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SLOW = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)

REQUESTS = Counter(
    "parley_http_requests", "HTTP requests by route and status", ["function", "route", "status"]
)
LATENCY = Histogram(
    "parley_http_request_duration_seconds",
    "Time to the end of the response (streams included)",
    ["function", "route"],
    buckets=_FAST,
)
ANSWERS = Counter("parley_answers", "Chat answers by source", ["source"])
CACHE = Counter("parley_answer_cache_lookups", "Answer cache lookups", ["result"])
FAQ_CHECKS = Counter(
    "parley_faq_checks", "Grey-zone FAQ matches put to the bot's LLM, by verdict", ["verdict"]
)
LLM_SECONDS = Histogram(
    "parley_llm_duration_seconds",
    "One generation, first request to last token",
    ["provider"],
    buckets=_SLOW,
)
LLM_TTFT = Histogram(
    "parley_llm_first_token_seconds",
    "Provider time to the first token",
    ["provider"],
    buckets=_SLOW,
)
LLM_TOKENS = Counter("parley_llm_tokens", "Tokens by provider", ["provider", "direction"])
LLM_COST = Counter("parley_llm_cost_usd", "List-price cost of generations", ["provider"])
LLM_FAILURES = Counter("parley_llm_failures", "Provider failures by kind", ["provider", "kind"])
INGESTED = Counter("parley_ingest_documents", "Reconciled objects by outcome", ["action"])
INGESTING = Gauge("parley_ingest_in_progress", "Objects being ingested right now")
RATE_LIMITED = Counter("parley_rate_limited", "Requests refused by a rate limit")


def record_generation(
    provider: str, *, seconds: float, ttft_ms: int | None, tokens: tuple[int, int], cost_usd: float
) -> None:
    tokens_in, tokens_out = tokens
    LLM_SECONDS.labels(provider).observe(seconds)
    if ttft_ms is not None:
        LLM_TTFT.labels(provider).observe(ttft_ms / 1000)
    LLM_TOKENS.labels(provider, "in").inc(tokens_in)
    LLM_TOKENS.labels(provider, "out").inc(tokens_out)
    LLM_COST.labels(provider).inc(cost_usd)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (Starlette's router records the route in the
    scope); "unmatched" for everything else, so raw paths never become labels."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class MetricsMiddleware:
    """Count each HTTP request and time it to the end of its response body."""

    def __init__(self, app: ASGIApp, *, function: str) -> None:
        self.app = app
        self.function = function

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            REQUESTS.labels(self.function, route, str(status)).inc()
            LATENCY.labels(self.function, route).observe(time.perf_counter() - started)


def metrics_response(registry: CollectorRegistry = REGISTRY) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def metrics_endpoint(request: Request) -> Response:
    return metrics_response()
