"""GET /v1/admin/gdpr-requests: the tenant's GDPR requests, with status and deadline."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.schemas import Page
from shared.auth.access import TENANT_USER
from shared.db import gdpr
from shared.gdpr.receipts import RequestRecord, record
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal
from shared.http.params import page_of, paging


async def list_gdpr_requests(request: Request) -> Response:
    limit, offset = paging(request)
    async with get_runtime(request).db.connection() as conn:
        rows = await gdpr.list_requests(
            conn, scope=get_principal(request).scope, limit=limit, offset=offset
        )
    return page_of(RequestRecord, [record(row).model_dump() for row in rows], limit, offset)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/gdpr-requests",
        list_gdpr_requests,
        "List GDPR requests (newest first) with status and deadline",
        TENANT_USER,
        response=Page[RequestRecord],
        tag="gdpr",
    ),
]
