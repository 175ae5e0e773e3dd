"""POST /v1/gdpr/erasure and /export, the receipts, and the download of a large export.

A visitor reads their receipts with the bot's publishable key and the headers
``X-Parley-Visitor-Id`` and ``X-Parley-Visitor-Token`` (never in the URL, where proxies
log them); the shop with its secret key or dashboard session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from functions.gdpr.schemas import SubjectRequest
from shared.auth.access import GDPR
from shared.db import gdpr
from shared.errors import NotFoundError
from shared.gdpr import requests as gdpr_requests
from shared.gdpr.asking import may_read, subject_for
from shared.gdpr.receipts import Asked, Receipt, receipt
from shared.gdpr.subjects import Subject
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_caller_bot, get_principal, read_json
from shared.http.params import path_uuid, respond

# The headers a visitor proves who they are with when reading a receipt.
ID_HEADER, PROOF_HEADER = "x-parley-visitor-id", "x-parley-visitor-token"


async def _subject(request: Request) -> tuple[Subject, Asked]:
    runtime = get_runtime(request)
    body = await read_json(request, SubjectRequest, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn:
        return await subject_for(
            runtime,
            conn,
            get_principal(request),
            get_caller_bot(request),
            **body.model_dump(),
        )


async def erasure(request: Request) -> Response:
    subject, asked = await _subject(request)
    row = await gdpr_requests.erase(get_runtime(request), subject, asked)
    return respond(receipt(row), 200 if row["status"] == "completed" else 202)


async def export(request: Request) -> Response:
    subject, asked = await _subject(request)
    row, document = await gdpr_requests.export_data(get_runtime(request), subject, asked)
    if document is not None:
        return respond(document)
    return respond(receipt(row), 202)


async def _readable(request: Request) -> dict[str, Any]:
    runtime = get_runtime(request)
    request_id = path_uuid(request, "request_id")
    async with runtime.db.connection() as conn:
        row = await gdpr.get_request(conn, request_id=request_id)
        allowed = row is not None and await may_read(
            runtime,
            conn,
            get_principal(request),
            row,
            visitor_id=request.headers.get(ID_HEADER),
            visitor_token=request.headers.get(PROOF_HEADER),
        )
    if row is None or not allowed:
        raise NotFoundError("GDPR request", request_id)
    return row


async def get_receipt(request: Request) -> Response:
    return respond(receipt(await _readable(request)))


async def download(request: Request) -> Response:
    row = await _readable(request)
    expires = row["export_expires_at"]
    if row["export_key"] is None or expires is None or expires < datetime.now(UTC):
        raise NotFoundError(
            message="This request has no export waiting (small exports are answered at once;"
            " large ones wait 7 days). Ask again for a fresh one.",
            code="export_not_available",
        )
    document = await gdpr_requests.read_export(get_runtime(request), row)
    return respond(document, headers={"Content-Disposition": 'attachment; filename="export.json"'})


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/gdpr/erasure",
        erasure,
        "Erase a data subject everywhere (the receipt: 200 when completed, 202 when a re-run"
        " must finish it)",
        GDPR,
        body=SubjectRequest,
        response=Receipt,
        tag="gdpr",
    ),
    Endpoint(
        "POST",
        "/v1/gdpr/export",
        export,
        "Export everything held about a data subject (the export itself, or 202 with a"
        " receipt whose download_url serves it)",
        GDPR,
        body=SubjectRequest,
        tag="gdpr",
    ),
    Endpoint(
        "GET",
        "/v1/gdpr/requests/{request_id}",
        get_receipt,
        "A GDPR request's receipt",
        GDPR,
        response=Receipt,
        tag="gdpr",
    ),
    Endpoint(
        "GET",
        "/v1/gdpr/requests/{request_id}/download",
        download,
        "Download a large export while it waits",
        GDPR,
        tag="gdpr",
    ),
]
