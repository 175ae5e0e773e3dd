"""S3 event webhook (MinIO, S3 via SNS/HTTP) and the polling trigger."""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shared.auth.access import ADMIN, PUBLIC
from shared.auth.authenticate import bearer_token
from shared.errors import BadRequestError, ServiceUnavailableError, UnauthorizedError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint
from shared.http.params import respond
from shared.ingest.events import s3_records
from shared.ingest.pipeline import reconcile
from shared.ingest.poll import poll
from shared.logging import get_logger
from shared.runtime import Runtime

log = get_logger("parley.ingest")
MAX_EVENT_BYTES = 1_000_000


class IngestResults(BaseModel):
    results: list[dict[str, Any]]


class PollResult(BaseModel):
    counts: dict[str, int]


def check_secret(runtime: Runtime, request: Request) -> None:
    configured = runtime.settings.ingest_secret
    if configured is None:
        raise ServiceUnavailableError(
            "PARLEY_INGEST_SECRET is not set on this server.", code="ingest_not_configured"
        )
    given = request.headers.get("x-parley-ingest-secret") or bearer_token(
        request.headers.get("authorization")
    )
    if not given or not hmac.compare_digest(given.encode(), configured.get_secret_value().encode()):
        raise UnauthorizedError("Wrong or missing ingest secret.")


async def handle_records(runtime: Runtime, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Reconcile every key the notification names in Parley's bucket."""
    storage = runtime.get_storage()
    results = []
    for record in s3_records(event):
        if record.bucket != storage.name:
            log.warning("event for another bucket ignored", bucket=record.bucket)
            results.append({"key": record.key, "action": "ignored"})
            continue
        outcome = await reconcile(runtime, storage, record.key)
        results.append(
            {
                k: str(v) if v is not None and k == "document_id" else v
                for k, v in asdict(outcome).items()
            }
        )
    return results


async def s3_events(request: Request) -> Response:
    runtime = get_runtime(request)
    if request.method == "HEAD":  # MinIO's reachability check carries no secret
        return Response(status_code=200)
    check_secret(runtime, request)
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        raise BadRequestError("The event is too large.", code="payload_too_large")
    try:
        event = json.loads(raw or b"{}")
        results = await handle_records(runtime, event) if isinstance(event, dict) else None
    except (json.JSONDecodeError, ValueError) as exc:
        raise BadRequestError(
            f"Not an S3 event notification ({exc}).", code="invalid_event"
        ) from None
    if results is None:
        raise BadRequestError("Not an S3 event notification.", code="invalid_event")
    return respond(IngestResults(results=results))


async def poll_now(request: Request) -> Response:
    runtime = get_runtime(request)
    counts = await poll(runtime, runtime.get_storage())
    return respond(PollResult(counts=counts))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/ingest/s3-events",
        s3_events,
        "S3/MinIO event notifications (secret as Bearer or X-Parley-Ingest-Secret)",
        PUBLIC,
        response=IngestResults,
        tag="ingest",
    ),
    Endpoint(
        "HEAD",
        "/v1/ingest/s3-events",
        s3_events,
        "Reachability check for webhooks",
        PUBLIC,
        tag="ingest",
    ),
    Endpoint(
        "POST",
        "/v1/ingest/poll",
        poll_now,
        "List the bucket; ingest what is new or changed, remove what is gone",
        ADMIN,
        response=PollResult,
        tag="ingest",
    ),
]
